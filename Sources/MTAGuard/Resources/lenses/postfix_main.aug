(*
Module: Postfix_Main
  Parses postfix main.cf the way postfix reads it. mtaguard's own version
  of the stock lens (/usr/share/augeas/lenses/dist/postfix_main.aug): the
  module has the same name and mtaguard puts its lens folder first in
  Augeas's load path, so this one is loaded instead of the stock one.

About: Why not the stock lens
  The stock lens rejects files postfix reads without a complaint: a comment
  or a blank line inside a continued value, a value line after such a line,
  a value that starts or ends with "#". postfix's rule (main.cf(5),
  util/readlline.c):
  - a logical line starts with non-whitespace text; a line that starts with
    whitespace continues the logical line before it;
  - empty lines, whitespace-only lines and lines whose first non-whitespace
    character is "#" are skipped, also in the middle of a continued value
    (they neither end it nor add to it);
  - the physical lines of a logical line are joined with nothing between
    them (the newline goes, the leading whitespace of a continuation line
    stays), then util/split_nameval.c takes the name (up to whitespace or
    "="), skips whitespace, "=", whitespace, and trims whitespace at the end:
    the rest is the value, "#" and all.
  "{ ... }" groups and "inline:{ ... }" tables are text to this rule: they
  span lines only through continuation lines.

About: Tree shape (the stock lens's, for every file the stock lens reads)
  - name = value   : { "name" = "value" }  (no value: { "name" })
  - # text         : { "#comment" = "text" }
  - blank line     : { }                   (also "#" alone)
  - whitespace-led text before the first setting (postfix warns "logical
    line must not start with whitespace" and ignores it, and the lines that
    continue it): { "#ignored" = "text" }; the stock lens rejects it.
  The value is ONE store, from its first to its last non-blank character:
  a continued value holds its newlines, the leading blanks of its
  continuation lines and the comment and blank lines between them, as
  written. mtaguard reads it as postfix does (PostfixValue.swift: skipped
  lines dropped, the rest joined). Blanks around "=", a line break (with
  skipped lines) between "=" and the first value line or between the name
  and "=", and trailing blanks are in del nodes: an unchanged tree is
  written back byte for byte, and setting one value rewrites only that
  value's text (a new value is written on the "name =" line's layout).

About: Not read
  - a name with "/" (postfix would take it; an Augeas key cannot hold "/");
  - "\r", "\f" and "\v" are text here, blanks to postfix: mtaguard turns
    CRLF into LF before parsing, so only a stray CR (not before LF) meets
    this lens.
  Lines postfix itself refuses (a name with no "=", a "}" at column 0) fail
  here too.

About: Ambiguity
  A value line's end is unique: a value may run on past a newline only into
  a continuation line, which starts with a blank and then a character other
  than "#" or a blank, and no other line kind (comment, blank, setting)
  starts that way. A value that starts with "#" is possible only on the
  "=" line (on a line of its own it would be a comment): it is a separate
  branch whose values all start with "#" and the other branch's never, so
  get and put each have exactly one branch for any text and any tree.
*)
module Postfix_Main =

autoload xfm

(* Group: blanks and line ends *)

(* View: eol  trailing blanks and the newline *)
let eol = del /[ \t]*\n/ "\n"

(* Variable: skipped_re  lines postfix skips: empty, blank-only, first non-blank is "#" *)
let skipped_re = /([ \t]*(#.*)?\n)*/

(* Variable: break_re  a line break inside a logical line: newline, skipped
   lines, the leading blanks of the continuation line *)
let break_re = /\n/ . skipped_re . /[ \t]+/

(* Group: values *)

(* Variable: text_re  the text of one value line: from its first non-blank
   (not "#": that would make a comment line) to its last *)
let text_re = /[^ \t\n#]([^\n]*[^ \t\n])?/

(* Variable: tail_re  the continuation lines of a value: trailing blanks of
   the line before, a line break, text *)
let tail_re = (/[ \t]*/ . break_re . text_re)*

(* Variable: value_re  a value not starting with "#": on the "=" line or on
   a continuation line *)
let value_re = text_re . tail_re

(* Variable: hash_value_re  a value starting with "#": on the "=" line only *)
let hash_value_re = /#([^\n]*[^ \t\n])?/ . tail_re

(* View: eq  "=", with blanks (and possibly a line break) between name and "=" *)
let eq = del (/[ \t]*/ . (break_re)? . /=/) " ="

(* View: sep  the blanks (and possibly a line break) after "=" *)
let sep = del (/[ \t]*/ . (break_re)?) " "

(* Group: lines *)

(* View: comment  as Util.comment, for LF text *)
let comment = [ label "#comment" . del /[ \t]*#[ \t]*/ "# "
              . store /([^ \t\n].*[^ \t\n]|[^ \t\n])/ . eol ]

(* View: empty *)
let empty = Util.empty

(* Variable: name  any run of non-blanks other than "=" (and "/"), not
   starting with "#" *)
let name = /[^ \t\n=\/#][^ \t\n=\/]*/

(* View: entry  a setting; a value that starts with "#" is a branch of its
   own (see Ambiguity) *)
let entry =
    [ key name . eq . (sep . store value_re)? . eol ]
  | [ key name . eq . del /[ \t]*/ " " . store hash_value_re . eol ]

(* View: ignored  whitespace-led text before the first setting *)
let ignored = [ label "#ignored" . del /[ \t]+/ " " . store value_re . eol ]

(* View: lns
   Ignored text can only come before the first setting (after one it would
   continue its value), hence the leading star. That split costs Augeas a
   match over the whole text: about 10 ms more than the stock lens on the
   27 KB main.cf.dist. *)
let lns = (comment | empty)* . ((ignored | entry) . (comment | empty | entry)*)?

let filter = incl "/etc/postfix/main.cf"
           . incl "/usr/local/etc/postfix/main.cf"

let xfm = transform lns filter
