# Regenerates photos/*.jpg (needs Pillow): python3 scripts/make-sample-photos.py, run from loadtest/.
# The output is committed; the suite never runs this.
import random
from PIL import Image, ImageDraw, ImageFilter

random.seed(7)

def scene(path, size, top, bottom, kind, quality):
    w, h = size
    img = Image.new("RGB", size)
    d = ImageDraw.Draw(img)
    for y in range(h):
        t = y / (h - 1)
        d.line([(0, y), (w, y)], fill=tuple(int(top[i] * (1 - t) + bottom[i] * t) for i in range(3)))
    if kind == "balloons":
        for _ in range(14):
            x, y, r = random.randint(0, w), random.randint(0, h // 2), random.randint(25, 60)
            c = random.choice([(230, 60, 80), (250, 200, 60), (90, 160, 240), (240, 240, 240)])
            d.ellipse([x - r, y - int(r * 1.2), x + r, y + int(r * 1.2)], fill=c)
            d.line([(x, y + int(r * 1.2)), (x + random.randint(-20, 20), h)], fill=(60, 60, 60), width=2)
    elif kind == "lights":
        for _ in range(60):
            x, y, r = random.randint(0, w), random.randint(0, h), random.randint(6, 22)
            c = random.choice([(255, 220, 120), (255, 160, 200), (160, 220, 255)])
            d.ellipse([x - r, y - r, x + r, y + r], fill=c)
        img = img.filter(ImageFilter.GaussianBlur(3))
        d = ImageDraw.Draw(img)
    elif kind == "table":
        d.rectangle([0, int(h * 0.6), w, h], fill=(240, 235, 225))
        for i in range(5):
            cx = int(w * (i + 0.5) / 5)
            d.ellipse([cx - 45, int(h * 0.65), cx + 45, int(h * 0.65) + 40], fill=(255, 255, 255), outline=(200, 190, 170), width=3)
            d.rectangle([cx - 8, int(h * 0.35), cx + 8, int(h * 0.62)], fill=(250, 245, 230))
            d.ellipse([cx - 7, int(h * 0.30), cx + 7, int(h * 0.36)], fill=(255, 190, 60))
    elif kind == "cake":
        cx = w // 2
        for i, (tw, th) in enumerate([(360, 140), (270, 120), (180, 100)]):
            base = int(h * 0.85) - sum(x[1] for x in [(360, 140), (270, 120), (180, 100)][:i])
            d.rectangle([cx - tw // 2, base - th, cx + tw // 2, base], fill=(255, 250, 245), outline=(220, 200, 190), width=3)
            for k in range(12):
                px = cx - tw // 2 + int(tw * (k + 0.5) / 12)
                d.ellipse([px - 6, base - th // 2 - 6, px + 6, base - th // 2 + 6], fill=(240, 170, 190))
    # a little sensor noise so the JPEG has realistic entropy
    px = img.load()
    for _ in range(w * h // 6):
        x, y = random.randrange(w), random.randrange(h)
        r, g, b = px[x, y]
        n = random.randint(-18, 18)
        px[x, y] = (max(0, min(255, r + n)), max(0, min(255, g + n)), max(0, min(255, b + n)))
    img.save(path, "JPEG", quality=quality, optimize=True)

scene("photos/balloons.jpg", (800, 600), (120, 180, 240), (250, 230, 210), "balloons", 82)
scene("photos/fairy-lights.jpg", (640, 480), (20, 20, 50), (70, 30, 80), "lights", 80)
scene("photos/dinner-table.jpg", (1024, 768), (200, 170, 140), (120, 90, 70), "table", 78)
scene("photos/wedding-cake.jpg", (600, 800), (250, 240, 235), (230, 215, 210), "cake", 85)
