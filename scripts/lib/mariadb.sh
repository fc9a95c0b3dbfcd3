# Sourced by the scripts that build private MariaDB servers (myreplica.sh, galera.sh): where
# the server, its installer and the client are, and how to run a command as the server's OS
# user. Expects the caller's die().
MARIADBD="$(command -v mariadbd || command -v mysqld || ls /usr/sbin/mariadbd /usr/sbin/mysqld 2>/dev/null | head -n1 || true)"
INSTALL_DB="$(command -v mariadb-install-db || command -v mysql_install_db || true)"
[[ -n "$MARIADBD" && -n "$INSTALL_DB" ]] || die "no MariaDB server (install mariadb-server)"
MYSQL_CLIENT="$(command -v mariadb || command -v mysql)"

if [[ $EUID -eq 0 ]]; then
  MY_USER=mysql
  id -u "$MY_USER" >/dev/null 2>&1 || die "running as root needs a 'mysql' OS user"
  as_user() { (cd / && runuser -u "$MY_USER" -- "$@" 9>&-); }
else
  MY_USER="$(id -un)"
  as_user() { (cd / && "$@" 9>&-); }
fi
