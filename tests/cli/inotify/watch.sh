#!/bin/sh
# Debian's inotifywait watching two directories while this shell creates,
# writes, moves and deletes files in them (tests/cli/inotify_test.py). $1
# is a scratch directory; the events come out with it replaced by "W".
set -e
b=$1
d=$b/w
mkdir -p "$d/sub"
echo old > "$d/sub/keep"
inotifywait -m -e create,modify,attrib,close_write,moved_from,moved_to,delete,delete_self,move_self \
  --format '%e %w%f' "$d" "$d/sub" > "$b/out" 2> "$b/err" &
pid=$!
# Until its watches are set (bounded: 2000 tries).
i=0
until grep -q "Watches established" "$b/err"; do
  i=$((i + 1)); [ $i -le 2000 ] || { echo "inotifywait did not start"; exit 3; }
  sleep 0.05
done
echo hello > "$d/a"
chmod 600 "$d/a"
mv "$d/a" "$d/b"
mkdir "$d/c"
touch "$d/c/x"
mv "$d/b" "$d/sub/b"
echo more >> "$d/sub/keep"
ln "$d/sub/keep" "$d/hard"
rm "$d/sub/b" "$d/hard"
rm -r "$d/c"
touch "$d/end"
i=0
# Until the last event of the last change is out (touch: CREATE, ATTRIB, CLOSE_WRITE).
until grep -q "CLOSE_WRITE,CLOSE $d/end" "$b/out"; do
  i=$((i + 1)); [ $i -le 2000 ] || { echo "no event for end"; break; }
  sleep 0.05
done
kill $pid
wait $pid || true
sed "s|$b/w|W|g" "$b/out"
