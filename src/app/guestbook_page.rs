//! `guestbook.html` in the host's ZIP: a self-contained, printable page with the event's
//! guestbook (oldest first) and every photo's comments, next to the photos it names by their
//! entry names. One page rather than two: the keepsake is printed (or opened) once, and the
//! comments read best beside the guestbook they belong with. Every string from a person is
//! escaped; the page has no script and loads nothing from outside the ZIP.

use std::fmt::Write;

use chrono::{DateTime, Utc};
use html_escape::encode_safe as escape;

/// The page's file name inside the ZIP. Photo entries are always `{name}_{time}_{n}.{ext}`, so
/// no photo can be called this.
pub const FILE_NAME: &str = "guestbook.html";

/// A photo of the ZIP as the page shows it.
pub struct PagePhoto {
    /// Its entry name in the ZIP (a relative link from the page).
    pub entry: String,
    /// Whether browsers show it as an image (JPEG, PNG, WebP, GIF); others are linked only.
    pub shows_inline: bool,
}

pub struct PageMessage {
    pub author: String,
    pub text: String,
    pub at: DateTime<Utc>,
    pub photo: Option<PagePhoto>,
}

pub struct PageComment {
    pub author: String,
    pub text: String,
    pub at: DateTime<Utc>,
}

/// A photo with its comments, oldest first.
pub struct CommentedPhoto {
    pub photo: PagePhoto,
    pub comments: Vec<PageComment>,
}

const STYLE: &str = "
body { font-family: Georgia, 'Times New Roman', serif; max-width: 46rem; margin: 2rem auto;
  padding: 0 1rem; color: #222; line-height: 1.45; }
h1 { text-align: center; margin-bottom: .2rem; }
.subtitle { text-align: center; color: #666; margin-top: 0; }
h2 { border-bottom: 1px solid #ccc; padding-bottom: .2rem; margin-top: 2.5rem; }
article { margin: 1.2rem 0; padding: .8rem 1rem; border: 1px solid #e2e2e2; border-radius: 6px; }
.meta { color: #666; font-size: .9rem; margin: 0 0 .4rem; }
.text { white-space: pre-wrap; overflow-wrap: anywhere; margin: 0; }
img { display: block; max-width: 100%; max-height: 18rem; margin-top: .6rem; }
ul { list-style: none; padding: 0; margin: .6rem 0 0; }
li { margin: .4rem 0; }
@media print {
  body { margin: 0; max-width: none; }
  article { break-inside: avoid; border-color: #bbb; }
  a { color: inherit; text-decoration: none; }
}
";

/// The page, or `None` when there is nothing to print.
pub fn render(
    event_name: &str,
    messages: &[PageMessage],
    commented: &[CommentedPhoto],
) -> Option<String> {
    if messages.is_empty() && commented.is_empty() {
        return None;
    }
    let title = if event_name.trim().is_empty() {
        "Guestbook".to_owned()
    } else {
        format!("{} – Guestbook", event_name.trim())
    };
    let mut page = String::new();
    // Writing to a String cannot fail.
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        escape(&title),
        escape(event_name.trim()),
    );
    if !messages.is_empty() {
        page.push_str("<section>\n<h2>Guestbook</h2>\n");
        for message in messages {
            page.push_str("<article>\n");
            meta(&mut page, "p", &message.author, message.at);
            let _ = writeln!(page, "<p class=\"text\">{}</p>", escape(&message.text));
            if let Some(photo) = &message.photo {
                photo_link(&mut page, photo);
            }
            page.push_str("</article>\n");
        }
        page.push_str("</section>\n");
    }
    if !commented.is_empty() {
        page.push_str("<section>\n<h2>Comments on photos</h2>\n");
        for entry in commented {
            page.push_str("<article>\n");
            let _ = writeln!(page, "<p class=\"meta\">{}</p>", escape(&entry.photo.entry));
            photo_link(&mut page, &entry.photo);
            page.push_str("<ul>\n");
            for comment in &entry.comments {
                page.push_str("<li>");
                meta(&mut page, "div", &comment.author, comment.at);
                let _ = writeln!(page, "<p class=\"text\">{}</p></li>", escape(&comment.text));
            }
            page.push_str("</ul>\n</article>\n");
        }
        page.push_str("</section>\n");
    }
    page.push_str("</body>\n</html>\n");
    Some(page)
}

fn meta(page: &mut String, tag: &str, author: &str, at: DateTime<Utc>) {
    let _ = writeln!(
        page,
        "<{tag} class=\"meta\"><strong>{}</strong> · <time datetime=\"{}\">{}</time></{tag}>",
        escape(author),
        at.to_rfc3339(),
        at.format("%Y-%m-%d %H:%M UTC"),
    );
}

fn photo_link(page: &mut String, photo: &PagePhoto) {
    let entry = escape(&photo.entry);
    if photo.shows_inline {
        let _ = writeln!(
            page,
            "<a href=\"{entry}\"><img src=\"{entry}\" alt=\"{entry}\" loading=\"lazy\"></a>"
        );
    } else {
        let _ = writeln!(page, "<p><a href=\"{entry}\">{entry}</a></p>");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp(1_796_000_000, 0).expect("time")
    }

    #[test]
    fn nothing_to_print_is_no_page() {
        assert_eq!(render("Party", &[], &[]), None);
    }

    #[test]
    fn every_string_from_a_person_is_escaped() {
        let attack = "<script>alert(1)</script>\"'&";
        let page = render(
            attack,
            &[PageMessage {
                author: attack.into(),
                text: format!("{attack}\nzweite Zeile"),
                at: at(),
                photo: Some(PagePhoto {
                    entry: "Ada_20261127-213015_1.jpg".into(),
                    shows_inline: true,
                }),
            }],
            &[CommentedPhoto {
                photo: PagePhoto {
                    entry: "Ben_20261127-213015_2.mp4".into(),
                    shows_inline: false,
                },
                comments: vec![PageComment {
                    author: "Ben".into(),
                    text: attack.into(),
                    at: at(),
                }],
            }],
        )
        .expect("page");
        assert!(!page.contains("<script>"), "{page}");
        assert!(!page.contains("alert(1)</script>"));
        assert!(page.contains("&lt;script&gt;alert(1)&lt;&#x2F;script&gt;"));
        assert!(page.contains("zweite Zeile"));
        assert!(page.contains("<img src=\"Ada_20261127-213015_1.jpg\""));
        assert!(page.contains("<a href=\"Ben_20261127-213015_2.mp4\">"));
        assert!(
            !page.contains("<img src=\"Ben_"),
            "a clip is linked, not shown"
        );
        assert!(page.contains("@media print"));
    }
}
