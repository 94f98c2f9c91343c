# syntax=docker/dockerfile:1
# PartyPic web client: the static files in web/ served by nginx as an unprivileged user.
#   docker build -f deploy/docker/client.Dockerfile -t partypic-client .

FROM nginxinc/nginx-unprivileged:1.28-alpine
COPY deploy/docker/nginx.conf /etc/nginx/nginx.conf
COPY web/ /usr/share/nginx/html/
# uid 101 (nginx) from the base image; listens on 8080.
USER 101
EXPOSE 8080
