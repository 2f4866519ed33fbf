(*
Module: Sendmail_Mc
  Parses a sendmail m4 source file (sendmail.mc, submit.mc) just enough to
  read and edit single-line define() macros such as confPRIVACY_FLAGS.
  Every other line is kept verbatim as an opaque "@line" node.

About: Tree shape
  - define(`NAME', `VALUE')dnl : { "define" = "NAME" { "value" = "VALUE" } }
    quotes optional on NAME and on VALUE (each kept as found); blanks after
    the comma kept; after ")" an optional "dnl", "dnl <anything>" or
    "# <anything>" is kept. A one-argument define(`NAME')dnl gives
    { "define" = "NAME" } (no value child).
    A new node is written as define(`NAME', `VALUE')dnl
  - blank line         : { }   (a node without label, blanks kept)
  - anything else      : { "@line" = "<whole line verbatim>" }
    This includes "dnl ..." and "#..." comment lines, OSTYPE/FEATURE/MAILER
    lines, divert(), and defines this lens does not take apart:
    a VALUE that spans lines (Debian: "define(`confPRIVACY_FLAGS',dnl"
    followed by the value on the next line), a quoted VALUE holding a quote,
    an unquoted VALUE holding a quote, a parenthesis, a comma or "#", blanks
    before ")" or before the comma, or any text after ")" other than
    dnl/#-comments (e.g. a second macro on the same line).

About: Line structure
  As in Sendmail_Cf: lines are joined by "\n" separators, so a last line
  without a final newline parses, and a file ending in "\n" ends with one
  empty, label-less node. Every newline del is the constant "\n".
*)
module Sendmail_Mc =

autoload xfm

(************************************************************************
 * Group: Regexps shared by the lenses and by the catch-all exclusion
 ************************************************************************)

(* Variable: name_re  a macro name *)
let name_re = /[A-Za-z_][A-Za-z0-9_]*/

(* Variable: plain_value_re  a VALUE without a comma: may be written with or
   without quotes. m4 strips blanks before an unquoted argument and ends it
   at "," or ")"; "(" would nest and "#" starts an m4 comment, so none of
   these (nor a quote or a leading blank) is taken. *)
let plain_value_re = /([^`'(),# \t\n][^`'(),#\n]*)?/

(* Variable: list_value_re  a VALUE holding a comma: only valid quoted
   (unquoted, m4 would split it into several arguments) *)
let list_value_re = /[^`'()#\n]*,[^`'()#\n]*/

(* Variable: comma_re  the comma between NAME and VALUE, blanks after it *)
let comma_re = /,[ \t]*/

(* Variable: tail_re  what may follow the closing ")" *)
let tail_re = /[ \t]*(dnl([^A-Za-z0-9_\n][^\n]*)?|#[^\n]*)?/

(* Variable: define_line_re  exactly the lines <define> takes *)
let define_line_re =
    /define\(/
  . /`?/ . name_re . /'?/
  . (comma_re . (/`?/ . plain_value_re . /'?/ | /`/ . list_value_re . /'/))?
  . /\)/ . tail_re

(* Variable: blank_line_re *)
let blank_line_re = /[ \t]*/

(* Variable: other_line_re  whatever no other lens takes *)
let other_line_re = /[^\n]*/ - define_line_re - blank_line_re

(************************************************************************
 * Group: Line lenses (none of them contains or consumes a newline)
 ************************************************************************)

(* View: blank  an empty line or a line of blanks *)
let blank = [ del blank_line_re "" ]

(* View: define  one single-line define()
   Quotes are optional dels, so the quoting found is kept and a new node is
   written with quotes. They are independent of each other (a line with a
   lone quote parses too; m4 would choke on it anyway) because two branches
   giving the same tree can not be told apart on put. The only exception is
   a value holding a comma: it must be quoted, or the line is opaque, since
   m4 would read "define(X, a,b)" as X = "a". The two value branches hold
   disjoint values (with / without a comma), so put picks the branch by the
   value: setting a comma list always writes it quoted. *)
let define =
  let lq = del /`?/ "`" in
  let rq = del /'?/ "'" in
  let plain = [ label "value" . lq . store plain_value_re . rq ] in
  let list  = [ label "value" . del "`" "`" . store list_value_re . del "'" "'" ] in
  [ key "define" . del "(" "(" . lq . store name_re . rq
  . (del comma_re ", " . (plain | list))?
  . del ")" ")" . del tail_re "dnl" ]

(* View: other  any other line, kept whole *)
let other = [ label "@line" . store other_line_re ]

(* View: line  exactly one line, without its newline *)
let line = blank | define | other

(************************************************************************
 * Group: The file
 ************************************************************************)

(* View: lns  lines separated by newlines *)
let lns = line . (del "\n" "\n" . line)*

(* Variable: filter *)
let filter = incl "/etc/mail/sendmail.mc"
           . incl "/etc/mail/submit.mc"

let xfm = transform lns filter
