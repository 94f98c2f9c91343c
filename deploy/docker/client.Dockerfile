# syntax=docker/dockerfile:1
# PartyPic web client: the static files in web/ served by nginx as an unprivileged user.
#   docker build -f deploy/docker/client.Dockerfile -t partypic-client .

FROM nginxinc/nginx-unprivileged:1.28-alpine
COPY deploy/docker/nginx.conf /etc/nginx/nginx.conf
COPY web/ /usr/share/nginx/html/
# Like the server: index.html loads /v/{version}/assets/…, a copy of assets/ cached for a year
# (nginx.conf); the version is sw.js's (the hash of the client, kept current by CI).
USER root
RUN set -eu; cd /usr/share/nginx/html; \
    v="$(sed -n "s/^const VERSION = '\([0-9a-f]*\)';$/\1/p" sw.js)"; test -n "$v"; \
    mkdir -p "v/$v"; cp -r assets "v/$v/"; \
    sed -i "s#=\"/assets/#=\"/v/$v/assets/#g" index.html
# uid 101 (nginx) from the base image; listens on 8080.
USER 101
EXPOSE 8080
