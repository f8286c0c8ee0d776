# nginx: Debian's nginx-light (1.22) serving /var/www/html on port 80 with
# a configuration of its own (nginx.conf here): in the foreground
# (daemon off), a master and one worker process (fork), the error log on
# stderr and the access log on stdout. Files to serve go in with
# --add DIR:/var/www/html (or --share).
# `capsule run --module nginx -p 8080:80`.
packages = ["nginx-light"]


def files(m):
    m.add_program("/usr/sbin/nginx")
    m.add_host("/etc/nginx/mime.types")
    m.add_host("nginx.conf", "/etc/nginx/nginx.conf")
    m.add_text("/var/www/html/index.html",
               "<!DOCTYPE html>\n<html><body><p>nginx on Capsule</p></body></html>\n")
    m.add_dir("/var/lib/nginx")
    m.add_dir("/var/log/nginx")
    m.add_dir("/run")


configs = {
    "default": Run(argv=["/usr/sbin/nginx", "-c", "/etc/nginx/nginx.conf", "-e", "stderr"],
                   mem="256M"),
    "single": Run(argv=["/usr/sbin/nginx", "-c", "/etc/nginx/nginx.conf", "-e", "stderr",
                        "-g", "master_process off;"],
                  mem="256M"),
}
