# A strict job in a root-owned checkout writes it through an idmapped
# mount, so what it writes is host root's on disk.  It must not leave a
# setuid or setgid file there: the workspace is nosuid only inside the
# job, and on the host a setuid-root copy of a shell in a checkout is
# host root for whoever can reach it.  Tried every way a mode is given:
# chmod, a mode at creation (open, mkdir), mknod of a regular file.
. "$(dirname "$0")/sandbox_lib.sh"

command -v python3 >/dev/null || { echo "SKIP: python3 is needed in the job"; exit 77; }
mkdir repo
cd repo
chown 0:0 .
git init -q -b main .
cat > .pipewright.yml <<'YML'
jobs:
  plant:
    script:
      - cp /bin/sh chmod-suid && chmod 4755 chmod-suid || true
      - cp /bin/sh chmod-sgid && chmod 2755 chmod-sgid || true
      - python3 -c 'import os; os.close(os.open("open-suid", os.O_CREAT|os.O_WRONLY, 0o4755))' || true
      - python3 -c 'import os; os.mknod("mknod-suid", 0o104755)' || true
      - python3 -c 'import os; os.mkdir("mkdir-sgid", 0o2755)' || true
      - echo planted
YML
git add -A
git -c user.name=t -c user.email=t@example.invalid commit -q -m first
pw run
expect_out "[plant] planted"
left=$(find . -path ./.git -prune -o \( -perm -4000 -o -perm -2000 \) -print)
[ -z "$left" ] || fail "the job left setuid/setgid files owned by $(stat -c %u:%g $left | sort -u | tr '\n' ' ')in a root-owned checkout: $left"
true
