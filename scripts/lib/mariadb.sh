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

# open_path_for_user DIR : as root, give every directory on DIR's path the search bit the
# server's OS user needs to reach its datadir (o+x only where it lacks it; never read).
open_path_for_user() {
  [[ $EUID -eq 0 ]] || return 0
  local path="" part parts
  IFS=/ read -ra parts <<< "${1#/}"
  for part in "${parts[@]}"; do
    path="$path/$part"
    runuser -u "$MY_USER" -- test -x "$path" || chmod o+x "$path"
  done
}
