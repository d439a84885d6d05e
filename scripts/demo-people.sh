#!/usr/bin/env bash
# Creates the demo Unix people of Onestop's cluster in a box.
#
#   groups: chem (3001), physics (3002), onestop-admins (3003)
#   users:  alice (2001, chem), bob (2002, chem), carol (2003, physics),
#           erin (2004, onestop-admins: the portal admin)
#
# Fixed uids/gids (when free) make jobs, files and ACLs look the same on every
# machine. Each user gets a personal primary group (gid = uid), a home under
# /home with mode 0750 and /bin/bash, and no password (log in through the portal,
# or `su - alice` as root). There is deliberately NO user `mallory`: tests use it
# as the name of someone the system does not know, so it is removed if present.
# Safe to run any number of times. Run as root.
set -euo pipefail

if [[ $EUID -ne 0 ]]; then
    echo "demo-people.sh: run as root" >&2
    exit 1
fi

ensure_group() { # name gid
    local name=$1 gid=$2
    if getent group "$name" >/dev/null; then
        return
    fi
    if getent group "$gid" >/dev/null; then
        echo "demo-people.sh: gid $gid is taken, group $name gets another" >&2
        groupadd "$name"
    else
        groupadd -g "$gid" "$name"
    fi
}

ensure_user() { # name uid project-group
    local name=$1 uid=$2 project=$3 home=/home/$1
    ensure_group "$name" "$uid"
    if ! getent passwd "$name" >/dev/null; then
        local uid_args=(-u "$uid")
        if getent passwd "$uid" >/dev/null; then
            echo "demo-people.sh: uid $uid is taken, user $name gets another" >&2
            uid_args=()
        fi
        useradd "${uid_args[@]}" -g "$name" -G "$project" -d "$home" -m -s /bin/bash "$name"
    else
        usermod -a -G "$project" -s /bin/bash "$name"
    fi
    if [[ ! -d $home ]]; then
        mkdir -p "$home"
        cp -rT /etc/skel "$home"
        chown -R "$name:" "$home"
    fi
    chmod 0750 "$home"
}

ensure_group chem 3001
ensure_group physics 3002
ensure_group onestop-admins 3003

ensure_user alice 2001 chem
ensure_user bob 2002 chem
ensure_user carol 2003 physics
ensure_user erin 2004 onestop-admins

# Each project group's shared folder (the file manager's "project folders"): the
# group owns it, new files inherit the group (setgid), strangers see nothing.
for project in chem physics; do
    install -d -m 2770 -o root -g "$project" "/srv/projects/$project"
done

if getent passwd mallory >/dev/null; then
    userdel -r mallory 2>/dev/null || userdel mallory
    echo "demo-people.sh: removed user mallory"
fi
if getent group mallory >/dev/null; then
    groupdel mallory
fi
