# A shell script of the kind real projects run (tests/guest/dynamic:
# dash_script, bash_script, busybox_script): functions, recursion, loops,
# case, arithmetic, command substitution, here-documents, redirections,
# pipelines, subshells, background jobs and wait, traps, getopts, read
# loops. Its output must be the host's, line for line.

W=/tmp/shscript.$$
mkdir -p "$W" || exit 9

say() { printf '%s\n' "$*"; }
section() { say "== $1"; }

# --- functions, return values, recursion
section functions
fact() {
    if [ "$1" -le 1 ]; then echo 1; return; fi
    echo $(( $1 * $(fact $(( $1 - 1 ))) ))
}
fib() {
    a=0 b=1 i=0
    while [ $i -lt "$1" ]; do t=$((a + b)); a=$b; b=$t; i=$((i + 1)); done
    echo $a
}
is_even() { [ $(( $1 % 2 )) -eq 0 ]; }
say "fact 10 = $(fact 10)"
say "fib 30 = $(fib 30)"
for n in 3 8 11; do
    if is_even $n; then say "$n even"; else say "$n odd"; fi
done
count_args() { echo $#; }
say "args: $(count_args a 'b c' "" d)"

# --- loops, case, string operations
section strings
path=/usr/local/lib/python3.11/site-packages/mod.py
say "dir=${path%/*} base=${path##*/} ext=${path##*.} noext=${path%.*}"
word=capsule
say "len=${#word} default=${unset_var:-fallback} alt=${word:+set}"
for f in a.c b.h c.py d.sh README Makefile; do
    case $f in
        *.c|*.h) kind=C ;;
        *.py) kind=Python ;;
        *.sh) kind=shell ;;
        [A-Z]*) kind=upper ;;
        *) kind=other ;;
    esac
    printf '%-9s %s\n' "$f" "$kind"
done
IFS_OLD=$IFS; IFS=:; set -- $PATHLIKE "x:y:z"; IFS=$IFS_OLD
say "split into $# fields: $*"
set -- one two three four
shift 2
say "after shift: $# $1 $2"

# --- arithmetic
section arithmetic
i=0 sum=0
while [ $i -lt 100 ]; do i=$((i + 1)); sum=$((sum + i * i)); done
say "sum of squares 1..100 = $sum"
say "ops: $(( 7 / 2 )) $(( -7 % 3 )) $(( 1 << 10 )) $(( 0x1F & 12 )) $(( 3 > 2 && 2 > 1 ))"
n=17; steps=0
until [ $n -eq 1 ]; do
    if [ $((n % 2)) -eq 0 ]; then n=$((n / 2)); else n=$((3 * n + 1)); fi
    steps=$((steps + 1))
done
say "collatz 17 in $steps steps"

# --- here-documents
section heredocs
name=world
cat <<EOT
hello $name
sum is $((2 + 3)), command says $(echo inner)
EOT
cat <<'EOT'
not expanded: $name $(echo no)
EOT
	cat <<-EOT
	tabs stripped for $name
	EOT
sort <<EOT | tr 'a-z' 'A-Z'
pear
apple
fig
EOT

# --- redirections and files
section files
say first > "$W/f"
say second >> "$W/f"
say third >> "$W/f"
{ say grouped-1; say grouped-2; } > "$W/g"
say "lines: $(wc -l < "$W/f") and $(wc -l < "$W/g")"
exec 3> "$W/fd3"
say "via fd 3" >&3
say "again fd 3" >&3
exec 3>&-
cat "$W/fd3"
cat "$W/does-not-exist" 2> "$W/err" >/dev/null; say "cat status $?"
[ -s "$W/err" ] && say "stderr captured"
n=0
while read -r line; do n=$((n + 1)); say "read $n: $line"; done < "$W/f"
exec 4< "$W/g"; read -r l1 <&4; read -r l2 <&4; exec 4<&-
say "fd 4 gave $l1 then $l2"
printf 'c 3\na 1\nb 2\n' > "$W/kv"
sort "$W/kv" | while read -r k v; do say "key $k value $v"; done

# --- pipelines
section pipelines
say "the quick brown fox jumps over the lazy dog the end" | tr ' ' '\n' | sort | uniq -c | sort -rn | head -3
total=$(printf '%s\n' 5 10 15 20 | { s=0; while read -r x; do s=$((s + x)); done; echo $s; })
say "pipeline sum $total"
false | true; say "status of false|true: $?"
true | false; say "status of true|false: $?"
! false; say "negated: $?"

# --- subshells and command substitution
section subshells
x=outer
( x=inner; say "in subshell x=$x" )
say "after subshell x=$x"
y=$(x=sub; echo "$x")
say "substitution gave $y, x still $x"
nested=$(echo "a $(echo "b $(echo c)")")
say "nested: $nested"
old=`echo backticks`
say "old style: $old"
(exit 7); say "subshell exit $?"
( cd "$W" && say "in $(basename "$(pwd)" | cut -c1-9)" )
r=$( (set -e; false; echo not-reached) ); say "set -e subshell printed '${r}' status $?"

# --- background jobs and wait
section jobs
job() { sleep "$1"; echo "job $2 done" > "$W/job$2"; return "$2"; }
job 0.3 1 & p1=$!
job 0.1 2 & p2=$!
job 0.2 3 & p3=$!
wait $p1; s1=$?
wait $p2; s2=$?
wait $p3; s3=$?
say "statuses $s1 $s2 $s3"
cat "$W/job1" "$W/job2" "$W/job3"
for i in 1 2 3 4 5 6; do ( echo "worker $i" > "$W/w$i" ) & done
wait
cat "$W"/w* | sort
sleep 5 & long=$!
kill $long; wait $long 2>/dev/null; say "killed job status $?"

# --- traps and signals
section traps
trap 'say "got USR1"' USR1
kill -USR1 $$
trap - USR1
( trap 'say "subshell EXIT trap"' EXIT; exit 3 ); say "sub status $?"
trap 'say "got USR2 in a function"' USR2
signal_me() { kill -USR2 $$; say "after kill in function"; }
signal_me
trap - USR2

# --- getopts
section getopts
parse() {
    OPTIND=1; v=0 o=none
    while getopts "vo:" opt; do
        case $opt in
            v) v=$((v + 1)) ;;
            o) o=$OPTARG ;;
            *) say "bad option"; return 2 ;;
        esac
    done
    shift $((OPTIND - 1))
    say "v=$v o=$o rest=$*"
}
parse -v -v -o out.txt file1 file2
parse -o x
parse -q 2>/dev/null; say "parse -q status $?"

# --- a small report from generated data
section report
i=1
while [ $i -le 40 ]; do
    printf '%d %d %s\n' $i $(( (i * 37) % 11 )) "item$((i % 4))"
    i=$((i + 1))
done > "$W/data"
say "rows: $(wc -l < "$W/data")"
for g in item0 item1 item2 item3; do
    s=0 c=0
    while read -r id v name; do
        [ "$name" = "$g" ] || continue
        s=$((s + v)); c=$((c + 1))
    done < "$W/data"
    say "$g count=$c sum=$s"
done
sort -k2,2n -k1,1nr "$W/data" | head -4
say "max: $(sort -k2,2n "$W/data" | tail -1 | { read -r a b c; echo "$b from row $a"; })"

section end
rm -rf "$W"
[ -d "$W" ] || say "work directory removed"
trap 'echo "trap EXIT ran"' EXIT
exit 4
