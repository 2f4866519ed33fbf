#!/usr/bin/env bash
# make install:   scripts/install.sh ROOT BINARY MANPAGE
# make uninstall: scripts/install.sh --remove ROOT
# ROOT is $(DESTDIR)$(PREFIX). The binary finds ROOT/share/mtaguard from its own path, so the
# tree works wherever it is unpacked.
set -euo pipefail
cd "$(dirname "$0")/.."

files=(bin/mtaguard share/man/man1/mtaguard.1 share/bash-completion/completions/mtaguard
       share/zsh/site-functions/_mtaguard share/fish/vendor_completions.d/mtaguard.fish)

if [ "${1:-}" = --remove ]; then
  root=${2:?usage: install.sh --remove ROOT}
  for f in "${files[@]}"; do rm -f "$root/$f"; done
  rm -rf "$root/share/mtaguard"
  echo "removed mtaguard from $root"
  exit 0
fi

root=${1:?usage: install.sh ROOT BINARY MANPAGE} bin=${2:?binary} man=${3:?man page}
[ -x "$bin" ] || { echo "install.sh: no binary at $bin" >&2; exit 1; }
[ -s "$man" ] || { echo "install.sh: no man page at $man" >&2; exit 1; }

install -d -m 0755 "$root/bin" "$root/share/man/man1" "$root/share/bash-completion/completions" \
  "$root/share/zsh/site-functions" "$root/share/fish/vendor_completions.d" "$root/share/mtaguard"
install -m 0755 -s "$bin" "$root/bin/mtaguard"  # stripped: the symbols are half its size
# generate-manual escaped the backslash of each \[uXXXX] mtaguard wrote for a non-ASCII
# character (Sources/mtaguard/ManualPage.swift): make it roff's glyph again.
sed 's/\\e\[u\([0-9A-F]\{4,6\}\)\]/\\[u\1]/g' "$man" > "$root/share/man/man1/mtaguard.1"
chmod 0644 "$root/share/man/man1/mtaguard.1"

# A playbook removed since the last install must not linger: replace the folders whole.
share=$root/share/mtaguard
rm -rf "$share/playbooks" "$share/lenses"
while IFS= read -r -d '' f; do
  install -D -m 0644 "$f" "$share/$f"
done < <(find playbooks -type f \( -name '*.yaml' -o -name '*.yml' \) -print0)
for f in Sources/MTAGuard/Resources/lenses/*.aug; do
  install -D -m 0644 "$f" "$share/lenses/$(basename "$f")"
done

"$root/bin/mtaguard" --generate-completion-script bash > "$root/share/bash-completion/completions/mtaguard"
"$root/bin/mtaguard" --generate-completion-script zsh > "$root/share/zsh/site-functions/_mtaguard"
"$root/bin/mtaguard" --generate-completion-script fish > "$root/share/fish/vendor_completions.d/mtaguard.fish"
chmod 0644 "$root/share/bash-completion/completions/mtaguard" "$root/share/zsh/site-functions/_mtaguard" \
  "$root/share/fish/vendor_completions.d/mtaguard.fish"

echo "installed mtaguard in $root: bin/mtaguard, share/mtaguard/{playbooks,lenses}, the man page and completions"
