#!/usr/bin/env bash
# Tests for the project's Augeas lenses (Sendmail_Cf, Sendmail_Mc, Rc_Tcpip,
# Postfix_Main, Exim).
#
#   bash Tests/lenses/run.sh        (from the repository root)
#
# 1. augparse runs the unit tests in Tests/lenses/test_*.aug (and type-checks
#    the lenses: a lens that is ambiguous fails here, not at load time).
# 2. Every fixture Tests/Fixtures/sendmail/*.cf and *.mc is copied into a
#    temporary root and loaded with augtool (-A: no stock lenses, -r: that
#    root, -I: our lens folder), then:
#      load   : no /augeas//error
#      save   : a plain save, and a save after an insert + remove (the tree is
#               dirty, so Augeas runs put over the whole file and would write
#               it if a single byte differed), leave the file byte-identical
#      edit   : one node edited (.cf: flags noexpn, novrfy appended to the
#               first PrivacyOptions; .mc: confPRIVACY_FLAGS set or inserted
#               before the first MAILER line); diff shows that only the
#               intended line changed, and how
# 3. Every fixture Tests/Fixtures/aix/rc.tcpip* is loaded as /etc/rc.tcpip
#    with Rc_Tcpip.lns: load (no error, exactly one sendmail start line,
#    active or commented out), save (as in 2.), toggle (rename
#    start[.='/usr/lib/sendmail'] to #start, or back when the fixture has it
#    commented out, and save: exactly one line changed, by a leading "#"
#    only, and the commented line is what audit scripts grep for), undo (a
#    new augtool session renames it back and saves: byte-identical to the
#    fixture), and the same toggle + undo within one session.
# 4. Every postfix main.cf, Tests/Fixtures/postfix/main.cf.* and the ones the
#    installed postfix package ships (/usr/share/postfix/main.cf.dist,
#    .debian, .tls, where present), is loaded as /etc/postfix/main.cf with
#    Postfix_Main.lns from our folder (it shadows the stock module of that
#    name), then:
#      load   : no error, and a non-empty tree
#      stock  : where the stock lens also reads the file, the two trees are
#               identical (playbooks written for the stock tree still hold);
#               main.cf.continued, which the stock lens rejects, must load
#               with ours -- so it is ours that -I loaded
#      save   : as in 2. (plain, and dirty but unchanged): byte-identical
#      edit   : the last disable_vrfy_command set to yes: exactly its value
#               line changes (old value -> yes, the rest of the line kept),
#               or, where there is none, one line "disable_vrfy_command = yes"
#               is appended
# Prints one line per failure and, last, "lenses: N passed, M failed"
# (LENS_TEST_VERBOSE=1 also prints the diff of each edit).
# Exits non-zero if anything failed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LENSES="$ROOT/Sources/MTAGuard/Resources/lenses"
TESTS="$ROOT/Tests/lenses"
FIXTURES="$ROOT/Tests/Fixtures/sendmail"

passed=0
failed=0
pass() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }

for tool in augparse augtool diff cmp perl; do
    command -v "$tool" >/dev/null || { echo "run.sh: $tool not found" >&2; exit 2; }
done

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# ---------------------------------------------------------------- 1. augparse
for t in "$TESTS"/test_*.aug; do
    if out=$(augparse -I "$LENSES" "$t" 2>&1) && [ -z "$out" ]; then
        pass
    else
        fail "augparse $(basename "$t")"
        printf '%s\n' "$out" >&2
    fi
done

# ------------------------------------------------------- 2. fixture round trips

# aug ROOT FILE LENS [COMMANDS...]: run augtool on ROOT/etc/mail/FILE with
# only LENS loaded, then the given commands; prints augtool's output.
aug() {
    local root=$1 file=$2 lens=$3
    shift 3
    {
        echo "set /augeas/load/Fixture/lens $lens"
        echo "set /augeas/load/Fixture/incl /etc/mail/$file"
        echo "load"
        printf '%s\n' "$@"
        echo "match /augeas//error"
    } | augtool -A -r "$root" -I "$LENSES" 2>&1
}

# fresh NAME: a new root holding fixture NAME as /etc/mail/NAME
fresh() {
    local root="$WORK/root.$1"
    rm -rf "$root"
    mkdir -p "$root/etc/mail"
    cp "$FIXTURES/$1" "$root/etc/mail/$1"
    echo "$root"
}

NOERR='  (no matches)'   # what "match /augeas//error" prints when all is well

# save_roundtrip NAME ORIGINAL FILE TREE AUG-COMMAND...: a plain save, then a
# save of a dirty but unchanged tree (an insert + remove under TREE: Augeas
# then runs put over the whole file and would write it if a single byte
# differed), through AUG-COMMAND (aug, aug_rc or aug_pf with their
# arguments); FILE must stay byte-identical to ORIGINAL.
save_roundtrip() {
    local name=$1 original=$2 file=$3 tree=$4 out
    shift 4
    if out=$("$@" "save" "ins zz-roundtrip after $tree/*[1]" "rm $tree/zz-roundtrip" "save") \
        && [ "$(tail -n 1 <<<"$out")" = "$NOERR" ] \
        && cmp -s "$original" "$file"; then
        pass
    else
        fail "$name: save without change altered the file"
        printf '%s\n' "$out" >&2
        diff "$original" "$file" >&2 || true
    fi
}

# as_saved ORIGINAL COPY: COPY is ORIGINAL as a save after an edit writes it:
# Augeas itself appends a newline to a file that lacks a final one when it
# loads it (transform.c, append_newline), so any save that writes the file
# adds that newline.
as_saved() {
    cp "$1" "$2"
    [ ! -s "$2" ] || [ -z "$(tail -c 1 "$2")" ] || echo >> "$2"
}

# edited NAME OUT: augtool's output OUT shows an edit and a save without error
edited() {
    if [ "$(tail -n 1 <<<"$2")" != "$NOERR" ] || grep -q '^error' <<<"$2"; then
        fail "$1: edit + save"; printf '%s\n' "$2" >&2
        return 1
    fi
}

# diff_as_saved NAME ORIGINAL FILE: the diff from ORIGINAL (as a save writes
# it, see as_saved) to FILE; LENS_TEST_VERBOSE=1 also shows it on stderr
diff_as_saved() {
    local ref="$WORK/ref.$1" d
    as_saved "$2" "$ref"
    d=$(diff "$ref" "$3" || true)
    [ -z "${LENS_TEST_VERBOSE:-}" ] || printf "%s: %s\n%s\n" "$1" "edit diff" "$d" >&2
    printf '%s\n' "$d"
}

# the line that must be the only change of an .mc fixture with no define
NEW_DEFINE="define(\`confPRIVACY_FLAGS', \`authwarnings,noexpn,novrfy')dnl"

shopt -s nullglob
fixtures=("$FIXTURES"/*.cf "$FIXTURES"/*.mc)
[ ${#fixtures[@]} -gt 0 ] || { fail "no fixtures in $FIXTURES"; }

for path in "${fixtures[@]}"; do
    name=$(basename "$path")
    case "$name" in
        *.cf) lens=Sendmail_Cf.lns ;;
        *.mc) lens=Sendmail_Mc.lns ;;
    esac
    f=/files/etc/mail/$name

    # (a) load without error, and the tree is not empty
    root=$(fresh "$name")
    if out=$(aug "$root" "$name" "$lens" "count $f/*") \
        && [ "$(tail -n 1 <<<"$out")" = "$NOERR" ] \
        && ! grep -q '^ *no matches' <<<"$out"; then
        pass
    else
        fail "$name: load"; printf '%s\n' "$out" >&2
        continue
    fi

    # (b) save without change, then save of a dirty but unchanged tree
    save_roundtrip "$name" "$path" "$root/etc/mail/$name" "$f" aug "$root" "$name" "$lens"

    # (c) edit one node; only the intended line may change
    root=$(fresh "$name")
    expect_added=""   # set when the edit must add exactly this one line
    case "$name" in
        *.cf)
            p="$f/*[label()=~regexp('privacyoptions','i')][1]"
            if ! aug "$root" "$name" "$lens" "match $p" | grep -q "^/files"; then
                fail "$name: no PrivacyOptions node to edit"
                continue
            fi
            cmds=("set $p/flag[last()+1] noexpn" "set $p/flag[last()+1] novrfy" "save")
            ;;
        *.mc)
            d="$f/define[.='confPRIVACY_FLAGS'][1]"
            if aug "$root" "$name" "$lens" "match $d" | grep -q "^/files"; then
                old=$(aug "$root" "$name" "$lens" "get $d/value" | head -n 1)
                case "$old" in
                    *" = "*) old=${old#* = } ;;
                    *) old="" ;;
                esac
                new="noexpn,novrfy"
                [ -z "$old" ] || new="$old,$new"
                cmds=("set $d/value \"$new\"" "save")
            else
                m="$f/@line[.=~regexp('MAILER[(].*')][1]"
                if ! aug "$root" "$name" "$lens" "match $m" | grep -q "^/files"; then
                    fail "$name: no MAILER line to insert before"
                    continue
                fi
                cmds=("ins define before $m"
                      "set $f/define[last()] confPRIVACY_FLAGS"
                      "set $f/define[last()]/value authwarnings,noexpn,novrfy"
                      "save")
                expect_added=$NEW_DEFINE
            fi
            ;;
    esac
    out=$(aug "$root" "$name" "$lens" "${cmds[@]}") || true
    edited "$name" "$out" || continue
    d_out=$(diff_as_saved "$name" "$path" "$root/etc/mail/$name")
    ok=0
    if [ -n "$expect_added" ]; then
        # exactly one hunk adding exactly the expected line
        [ "$(sed -n '1p' <<<"$d_out" | grep -cE '^[0-9]+a[0-9]+$')" = 1 ] \
            && [ "$(wc -l <<<"$d_out")" = 2 ] \
            && [ "$(sed -n '2p' <<<"$d_out")" = "> $expect_added" ] \
            && ok=1
    else
        # exactly one line changed, and the new line minus the appended
        # "noexpn,novrfy" (and the separator before it) is the old line
        if [ "$(sed -n '1p' <<<"$d_out" | grep -cE '^[0-9]+c[0-9]+$')" = 1 ] \
            && [ "$(wc -l <<<"$d_out")" = 4 ]; then
            old_line=$(sed -n '2p' <<<"$d_out"); old_line=${old_line#< }
            new_line=$(sed -n '4p' <<<"$d_out"); new_line=${new_line#> }
            stripped=$(perl -pe 's/,?noexpn,novrfy(?!.*noexpn,novrfy)//' <<<"$new_line")
            [ "$new_line" != "$old_line" ] && [ "$stripped" = "$old_line" ] && ok=1
        fi
    fi
    if [ $ok = 1 ]; then
        pass
    else
        fail "$name: the edit changed more or other than the intended line"
        printf '%s\n' "$d_out" >&2
    fi
done

# -------------------------------------- 3. AIX /etc/rc.tcpip (Rc_Tcpip.lns)
AIX="$ROOT/Tests/Fixtures/aix"
RC=/files/etc/rc.tcpip
SM_ON='start /usr/lib/sendmail "$src_running" "-bd -q${qpi}"'
SM_NODE_ON="$RC/start[.='/usr/lib/sendmail']"
SM_NODE_OFF="$RC/#start[.='/usr/lib/sendmail']"

# aug_rc ROOT [COMMANDS...]: augtool on ROOT/etc/rc.tcpip with only Rc_Tcpip
aug_rc() {
    local root=$1
    shift
    {
        echo "set /augeas/load/Fixture/lens Rc_Tcpip.lns"
        echo "set /augeas/load/Fixture/incl /etc/rc.tcpip"
        echo "load"
        printf '%s\n' "$@"
        echo "match /augeas//error"
    } | augtool -A -r "$root" -I "$LENSES" 2>&1
}

# fresh_rc NAME: a new root holding aix fixture NAME as /etc/rc.tcpip
fresh_rc() {
    local root="$WORK/aix.$1"
    rm -rf "$root"
    mkdir -p "$root/etc"
    cp "$AIX/$1" "$root/etc/rc.tcpip"
    echo "$root"
}

rc_fixtures=("$AIX"/rc.tcpip*)
[ ${#rc_fixtures[@]} -gt 0 ] || fail "no fixtures in $AIX"

for path in "${rc_fixtures[@]}"; do
    name=$(basename "$path")
    # the fixture as a save after an edit writes it (see as_saved)
    ref="$WORK/ref.aix.$name"
    as_saved "$path" "$ref"

    # (a) load without error; exactly one sendmail node, active or not
    root=$(fresh_rc "$name")
    out=$(aug_rc "$root" "match $SM_NODE_ON" "match $SM_NODE_OFF") || true
    n_on=$(grep -c "^$RC/start" <<<"$out" || true)
    n_off=$(grep -c "^$RC/#start" <<<"$out" || true)
    if [ "$(tail -n 1 <<<"$out")" = "$NOERR" ] && [ $((n_on + n_off)) = 1 ]; then
        pass
    else
        fail "$name: load (want no error and one sendmail start line)"
        printf '%s\n' "$out" >&2
        continue
    fi
    if [ "$n_on" = 1 ]; then
        from=$SM_NODE_ON; to_label='#start'; back=$SM_NODE_OFF; back_label=start
    else
        from=$SM_NODE_OFF; to_label=start; back=$SM_NODE_ON; back_label='#start'
    fi

    # (b) save without change, then save of a dirty but unchanged tree
    save_roundtrip "$name" "$path" "$root/etc/rc.tcpip" "$RC" aug_rc "$root"

    # (c) toggle: one line changes, by a leading "#" and nothing else
    root=$(fresh_rc "$name")
    out=$(aug_rc "$root" "rename $from \"$to_label\"" "save") || true
    d_out=$(diff "$ref" "$root/etc/rc.tcpip" || true)
    [ -z "${LENS_TEST_VERBOSE:-}" ] || printf "%s: %s\n%s\n" "$name" "toggle diff" "$d_out"
    ok=0
    if [ "$(tail -n 1 <<<"$out")" = "$NOERR" ] \
        && [ "$(sed -n '1p' <<<"$d_out" | grep -cE '^[0-9]+c[0-9]+$')" = 1 ] \
        && [ "$(wc -l <<<"$d_out")" = 4 ]; then
        old_line=$(sed -n '2p' <<<"$d_out"); old_line=${old_line#< }
        new_line=$(sed -n '4p' <<<"$d_out"); new_line=${new_line#> }
        if [ "$n_on" = 1 ]; then active=$old_line; commented=$new_line
        else active=$new_line; commented=$old_line; fi
        # the active line, bar trailing blanks, is the stock one; the
        # commented one is "#" + the active one, byte for byte
        trimmed=$(sed 's/[[:blank:]]*$//' <<<"$active")
        [ "$trimmed" = "$SM_ON" ] && [ "$commented" = "#$active" ] \
            && grep -q '^#start[[:blank:]]/usr/lib/sendmail' <<<"$commented" \
            && ok=1
    fi
    if [ $ok = 1 ]; then
        pass
    else
        fail "$name: toggle changed more or other than the sendmail line"
        printf '%s\n%s\n' "$out" "$d_out" >&2
    fi

    # (d) undo in a new session: byte-identical to the fixture
    out=$(aug_rc "$root" "rename $back \"$back_label\"" "save") || true
    if [ "$(tail -n 1 <<<"$out")" = "$NOERR" ] && cmp -s "$ref" "$root/etc/rc.tcpip"; then
        pass
    else
        fail "$name: undo did not restore the file"
        printf '%s\n' "$out" >&2
        diff "$ref" "$root/etc/rc.tcpip" >&2 || true
    fi

    # (e) toggle and undo within one session (two saves)
    root=$(fresh_rc "$name")
    out=$(aug_rc "$root" "rename $from \"$to_label\"" "save" \
                 "rename $back \"$back_label\"" "save") || true
    if [ "$(tail -n 1 <<<"$out")" = "$NOERR" ] && cmp -s "$ref" "$root/etc/rc.tcpip"; then
        pass
    else
        fail "$name: toggle + undo in one session did not restore the file"
        printf '%s\n' "$out" >&2
        diff "$ref" "$root/etc/rc.tcpip" >&2 || true
    fi
done

# --------------------------------------- 4. postfix main.cf (Postfix_Main.lns)
MAINCF=/files/etc/postfix/main.cf
DVC="$MAINCF/disable_vrfy_command[last()]"

# aug_pf ROOT [-stock] [COMMANDS...]: augtool on ROOT/etc/postfix/main.cf with
# only Postfix_Main.lns, ours (or, with -stock, the one Augeas ships)
aug_pf() {
    local root=$1 include=(-I "$LENSES")
    shift
    if [ "${1:-}" = -stock ]; then include=(); shift; fi
    {
        echo "set /augeas/load/Fixture/lens Postfix_Main.lns"
        echo "set /augeas/load/Fixture/incl /etc/postfix/main.cf"
        echo "load"
        printf '%s\n' "$@"
        echo "match /augeas//error"
    } | augtool -A -r "$root" "${include[@]}" 2>&1
}

# fresh_pf NAME PATH: a new root holding PATH as /etc/postfix/main.cf
fresh_pf() {
    local root="$WORK/postfix.$1"
    rm -rf "$root"
    mkdir -p "$root/etc/postfix"
    cp "$2" "$root/etc/postfix/main.cf"
    echo "$root"
}

pf_fixtures=("$ROOT"/Tests/Fixtures/postfix/main.cf.*)
[ ${#pf_fixtures[@]} -gt 0 ] || fail "no fixtures in $ROOT/Tests/Fixtures/postfix"
for shipped in /usr/share/postfix/main.cf.dist /usr/share/postfix/main.cf.debian /usr/share/postfix/main.cf.tls; do
    [ ! -f "$shipped" ] || pf_fixtures+=("$shipped")
done

for path in "${pf_fixtures[@]}"; do
    case "$path" in
        "$ROOT"/*) name=$(basename "$path") ;;
        *) name="package-$(basename "$path")" ;;
    esac

    # (a) load without error, and the tree is not empty
    root=$(fresh_pf "$name" "$path")
    if out=$(aug_pf "$root" "print $MAINCF") \
        && [ "$(tail -n 1 <<<"$out")" = "$NOERR" ] \
        && grep -q "^$MAINCF/" <<<"$out"; then
        pass
    else
        fail "$name: load"; printf '%s\n' "$out" >&2
        continue
    fi

    # (b) the stock lens's tree, where it reads the file
    stock=$(aug_pf "$root" -stock "print $MAINCF") || true
    if [ "$(tail -n 1 <<<"$stock")" = "$NOERR" ]; then
        if [ "$stock" = "$out" ]; then
            pass
        else
            fail "$name: the tree differs from the stock lens's"
            diff <(printf '%s\n' "$stock") <(printf '%s\n' "$out") >&2 || true
        fi
    elif [ "$name" = main.cf.continued ]; then
        pass    # rejected by the stock lens, read by ours: ours was loaded
    else
        echo "note: $name: the stock Postfix_Main.lns rejects it" >&2
    fi
    if [ "$name" = main.cf.continued ] && [ "$(tail -n 1 <<<"$stock")" = "$NOERR" ]; then
        fail "$name: the stock lens reads it, so it no longer shows which lens is loaded"
    fi

    # (c) save without change, then save of a dirty but unchanged tree
    save_roundtrip "$name" "$path" "$root/etc/postfix/main.cf" "$MAINCF" aug_pf "$root"

    # (d) the last disable_vrfy_command set to yes; only its value changes
    root=$(fresh_pf "$name" "$path")
    old=$(aug_pf "$root" "get $DVC" | head -n 1)
    out=$(aug_pf "$root" "set $DVC yes" "save") || true
    edited "$name" "$out" || continue
    d_out=$(diff_as_saved "$name" "$path" "$root/etc/postfix/main.cf")
    ok=0
    case "$old" in
        *" = "*)
            old=${old#* = }
            # exactly one line changed, from ...OLD... to ...yes...
            if [ "$(sed -n '1p' <<<"$d_out" | grep -cE '^[0-9]+c[0-9]+$')" = 1 ] \
                && [ "$(wc -l <<<"$d_out")" = 4 ]; then
                old_line=$(sed -n '2p' <<<"$d_out"); old_line=${old_line#< }
                new_line=$(sed -n '4p' <<<"$d_out"); new_line=${new_line#> }
                [ "${old_line/"$old"/yes}" = "$new_line" ] && ok=1
            fi
            ;;
        *)
            [ "$(sed -n '1p' <<<"$d_out" | grep -cE '^[0-9]+a[0-9]+$')" = 1 ] \
                && [ "$(wc -l <<<"$d_out")" = 2 ] \
                && [ "$(sed -n '2p' <<<"$d_out")" = "> disable_vrfy_command = yes" ] \
                && ok=1
            ;;
    esac
    if [ $ok = 1 ]; then
        pass
    else
        fail "$name: the edit changed more or other than disable_vrfy_command's value"
        printf '%s\n' "$d_out" >&2
    fi
done

# ----------------------------- 5. exim's run time configuration (Exim.lns)
# Debian's exim4.conf.template and every file of its split layout (conf.d/*/*),
# from the exim packages Tests/mta/fetch.sh unpacked, each loaded on its own
# as /etc/exim4/<path>: load (no error), save (as in 2.), and one edit (the
# value of the first option, driver option or ACL condition, else the first
# comment, set to a marker): one hunk, changing that one line.
EXIM_ETC="${MTAGUARD_MTAS:-$ROOT/.build/mtas}/exim/etc/exim4"
if [ ! -f "$EXIM_ETC/exim4.conf.template" ]; then
    fail "no exim in $EXIM_ETC: run \`make mtas\` (bash Tests/mta/fetch.sh)"
else
    # aug_exim ROOT REL [COMMANDS...]: augtool on ROOT/etc/exim4/REL with only Exim.lns
    aug_exim() {
        local root=$1 rel=$2
        shift 2
        {
            echo "set /augeas/load/Fixture/lens Exim.lns"
            echo "set /augeas/load/Fixture/incl /etc/exim4/$rel"
            echo "load"
            printf '%s\n' "$@"
            echo "match /augeas//error"
        } | augtool -A -r "$root" -I "$LENSES" 2>&1
    }
    exim_files=("$EXIM_ETC/exim4.conf.template" "$EXIM_ETC"/conf.d/*/*)
    for path in "${exim_files[@]}"; do
        rel=${path#"$EXIM_ETC"/}
        f=/files/etc/exim4/$rel
        root="$WORK/exim.$(tr / _ <<<"$rel")"
        rm -rf "$root"; mkdir -p "$root/etc/exim4/$(dirname "$rel")"; cp "$path" "$root/etc/exim4/$rel"

        out=$(aug_exim "$root" "$rel" "count $f/*") || true
        if [ "$(tail -n 1 <<<"$out")" = "$NOERR" ] && ! grep -q '^ *no matches' <<<"$out"; then
            pass
        else
            fail "exim $rel: load"; printf '%s\n' "$out" >&2
            continue
        fi

        if out=$(aug_exim "$root" "$rel" "save" "ins zz-roundtrip after $f/*[1]" "rm $f/zz-roundtrip" "save") \
            && [ "$(tail -n 1 <<<"$out")" = "$NOERR" ] && cmp -s "$path" "$root/etc/exim4/$rel"; then
            pass
        else
            fail "exim $rel: save without change altered the file"
            printf '%s\n' "$out" >&2; diff "$path" "$root/etc/exim4/$rel" >&2 || true
        fi

        node=""
        for p in "$f/*[label()=~regexp('[a-z][a-z0-9_]*') and label()!='begin' and label()!='acl' and label()!='instance'][1]" \
                 "$f/instance/*[label()=~regexp('[a-z][a-z0-9_]*')][1]" "$f/acl/*/*[label()!='not'][1]" "$f/#comment[1]"; do
            if aug_exim "$root" "$rel" "match $p" | grep -q "^/files"; then node=$p; break; fi
        done
        [ -n "$node" ] || { fail "exim $rel: nothing to edit"; continue; }
        out=$(aug_exim "$root" "$rel" "set $node mtaguard-edit" "save") || true
        d_out=$(diff "$path" "$root/etc/exim4/$rel" || true)
        [ -z "${LENS_TEST_VERBOSE:-}" ] || printf "exim %s: edit diff\n%s\n" "$rel" "$d_out"
        hunks=$(grep -cE '^[0-9]+(,[0-9]+)?[acd][0-9]+(,[0-9]+)?$' <<<"$d_out" || true)
        if [ "$(tail -n 1 <<<"$out")" = "$NOERR" ] && [ "$hunks" = 1 ] \
            && grep -qE '^[0-9]+(,[0-9]+)?c[0-9]+$' <<<"$d_out" \
            && [ "$(grep -c '^> ' <<<"$d_out")" = 1 ] && grep -q '^> .*mtaguard-edit' <<<"$d_out"; then
            pass
        else
            fail "exim $rel: editing $node changed more or other than its line"
            printf '%s\n%s\n' "$out" "$d_out" >&2
        fi
    done
fi

echo "lenses: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
