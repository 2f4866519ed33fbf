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
    lines, divert(), and the defines this lens does not take apart:
    a VALUE that spans lines (Debian: "define(`confPRIVACY_FLAGS',dnl" with
    the value on the next line); a VALUE holding a quote, a parenthesis or
    "#"; an unquoted VALUE holding a comma (m4 would split it); a quoted
    VALUE without comma that starts with a blank; blanks before the comma
    or before ")"; any text after ")" other than a dnl or # comment (e.g. a
    second macro on the same line).

About: Line structure
  As in Sendmail_Cf: file = (line "\n")*; a last line without its final
  newline loads because Augeas appends one to the text it loads.
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

(* Variable: close_re  the closing parenthesis and what may follow it *)
let close_re = /\)/ . tail_re

(* Variable: define_line_re  exactly the lines <define> takes *)
let define_line_re =
    /define\(/
  . /`?/ . name_re . /'?/
  . (comma_re . (/`?/ . plain_value_re . /'?/ | /`/ . list_value_re . /'/))?
  . close_re

(* Variable: blank_line_re *)
let blank_line_re = /[ \t]*/

(************************************************************************
 * Group: The catch-all regexp, i.e. the complement of define_line_re
 *
 * Augeas could compute it as  any - define_line_re - blank_line_re, but the
 * regexp it writes for that is 40+ KB and the type checker of the file lens
 * then runs out of memory. So the complement is built by hand, piece by
 * piece, splitting a define line at each point where what follows is
 * fixed ("maximal munch"): a line is not a define line when it fails at
 * the first piece, or passes it and fails at the rest. Each "-" below is
 * on a small regexp. The type checker proves the pieces do not overlap the
 * define lines (union must be unambiguous); that they leave no line out was
 * checked once by computing any - (define | other | blank), which Augeas
 * reports as an empty subtraction.
 ************************************************************************)

(* Variable: any  the rest of a line *)
let any = /[^\n]*/

(* Variable: vchar  one character of a quoted VALUE (including a comma) *)
let vchar = /[^`'()#\n]/

(* Variable: not_tail  a rest that is not a valid tail after ")" *)
let not_tail = any - tail_re

(* Variable: not_quoted_value  after "`": a rest that is not a valid quoted
   value + ")" + tail. The value runs to the first character outside vchar;
   without a comma it may not start with a blank and its closing quote is
   optional, with a comma the closing quote is required. *)
let not_quoted_value =
    /([^`'(),# \t\n][^`'(),#\n]*)?/ . (any - vchar . any - /'?/ . close_re)
  | /[^`'()#\n]*,[^`'()#\n]*/ . (any - vchar . any - /'/ . close_re)
  | /[ \t][^`'(),#\n]*/ . (any - vchar . any)

(* Variable: not_plain_value  a rest, starting neither with a blank nor with
   "`", that is not an unquoted value + optional "'" + ")" + tail *)
let not_plain_value =
    /[^`'(),# \t\n][^`'(),#\n]*/ . (any - /[^`'(),#\n]/ . any - /'?/ . close_re)
  | (any - /[^`'(),#\n]/ . any - /'?/ . close_re - /`/ . any)

(* Variable: not_args  after the comma: not blanks + a valid VALUE + close *)
let not_args = /[ \t]*/ . ( /`/ . not_quoted_value | not_plain_value )

(* Variable: not_after_name  after NAME (so not starting with a name
   character): not an optional "'" followed by close_re or by a comma and
   valid arguments *)
let not_after_name =
    (any - /[A-Za-z0-9_',)]/ . any)
  | /'/ . (any - /[,)]/ . any)
  | /'?/ . ( /\)/ . not_tail | /,/ . not_args )

(* Variable: not_define  after "define(": not a valid define *)
let not_define =
    (any - /[A-Za-z_`]/ . any)
  | /`/ . (any - /[A-Za-z_]/ . any)
  | /`?/ . name_re . not_after_name

(* Variable: other_line_re  every line that is neither blank nor a define *)
let other_line_re =
    (any - /define\(/ . any - blank_line_re)
  | /define\(/ . not_define

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

(* View: lns  lines, each with its newline *)
let lns = (line . del "\n" "\n")*

(* Variable: filter *)
let filter = incl "/etc/mail/sendmail.mc"
           . incl "/etc/mail/submit.mc"

let xfm = transform lns filter
