#!/usr/bin/env bash
# Checks that every relative link and file reference in README.md, docs/
# and include/ resolves to a file of the repository:
#   - a markdown link [text](target) resolves from the linking file's
#     folder (web addresses and in-page anchors are not checked);
#   - a bare file name (proc.c, docs/otp.md, arbor/reason.h) resolves from
#     the file's folder, from the repository's root, or as the end of the
#     path of a tracked file (prose names src/runtime/proc.c "proc.c").
# System headers written <stdio.h> are not references. Prints each
# reference that does not resolve and exits 1 if there is one.
set -euo pipefail
cd "$(dirname "$0")/.."

# Names that are not files of ours: the reader's own program in README's
# build line.
ignore=(hello.c)

tracked=$(git ls-files)
files=$(git ls-files README.md 'docs/*.md' include)
bad=0

resolves() { # file ref
    local dir ref=$2
    dir=$(dirname "$1")
    ref=${ref#./}
    [ -e "$dir/$ref" ] && return 0
    [ -e "$ref" ] && return 0
    while [[ $ref == ../* ]]; do ref=${ref#../}; done
    grep -qxE "(.*/)?${ref//./\\.}" <<<"$tracked"
}

for f in $files; do
    # Markdown links.
    while IFS= read -r target; do
        target=${target%%#*}
        [ -z "$target" ] && continue
        [[ $target =~ ^[a-z]+: ]] && continue
        [ -e "$(dirname "$f")/$target" ] || { echo "$f: broken link ($target)"; bad=1; }
    done < <(grep -oE '\]\([^) ]+\)' "$f" | sed -E 's/^\]\(//; s/\)$//')
    # Bare file names, not inside a web address or <system.h>.
    while IFS= read -r ref; do
        for i in "${ignore[@]}"; do [ "$ref" = "$i" ] && continue 2; done
        resolves "$f" "$ref" || { echo "$f: no such file ($ref)"; bad=1; }
    done < <(grep -v -E 'https?://' "$f" |
        grep -oE '(^|[^A-Za-z0-9_<./-])[A-Za-z0-9_][A-Za-z0-9_./-]*\.(md|c|h|sh|exs|cmake|in|txt)($|[^A-Za-z0-9_>])' |
        sed -E 's/^[^A-Za-z0-9_]//; s/[^A-Za-z0-9_]$//' | sort -u)
done
exit $bad
