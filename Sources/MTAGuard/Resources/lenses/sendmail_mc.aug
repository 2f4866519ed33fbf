(*
Module: Sendmail_Mc
  Parses a sendmail m4 source file (sendmail.mc, submit.mc) just enough to
  read and edit define() macros such as confPRIVACY_FLAGS, written on one
  line or, as Debian does, with the VALUE on the next line. Every other
  line is kept verbatim as an opaque "@line" node.

About: Tree shape
  - define(`NAME', `VALUE')dnl : { "define" = "NAME" { "value" = "VALUE" } }
    quotes optional on NAME and on VALUE (each kept as found); blanks after
    the comma kept; after ")" an optional "dnl", "dnl <anything>" or
    "# <anything>" is kept. A one-argument define(`NAME')dnl gives
    { "define" = "NAME" } (no value child).
    A new node is written as define(`NAME', `VALUE')dnl
  - the two-line form (Debian's sendmail.mc)
      define(`NAME',dnl
      `VALUE')dnl
    gives the SAME tree: { "define" = "NAME" { "value" = "VALUE" } }.
    Line 1: "define(" + NAME (quotes optional) + "," + blanks + "dnl" +
    blanks. Line 2: blanks + VALUE + ")" + tail, VALUE and tail exactly as
    in the one-line form (so a quoted comma list, or a one-word value with
    or without quotes: m4 reads "define(X,dnl\n  x)" as X = "x" too).
    Setting the value keeps both lines as they are except for the VALUE;
    the form is kept in the "del" between the comma and the VALUE (see
    <define>), so there is no separate branch and no extra node.
  - blank line         : { }   (a node without label, blanks kept)
  - anything else      : { "@line" = "<whole line verbatim>" }
    This includes "dnl ..." and "#..." comment lines, OSTYPE/FEATURE/MAILER
    lines, divert(), and the defines this lens does not take apart:
    a line 1 as above not followed by a valid line 2 (then both lines stay
    opaque, each its own "@line"), a line 2 without a line 1, a VALUE that
    spans more than two lines; a VALUE holding a quote, a parenthesis or
    "#"; an unquoted VALUE holding a comma (m4 would split it); a quoted
    VALUE without comma that starts with a blank; blanks before the comma
    or before ")"; any text after ")" other than a dnl or # comment (e.g. a
    second macro on the same line).

About: Line structure
  As in Sendmail_Cf: file = (line "\n")*; a last line without its final
  newline loads because Augeas appends one to the text it loads. The one
  exception is the two-line define, taken as one element holding a "\n".
  Any text still loads (checked on random files made of line-1s, line-2s,
  defines, blank and other lines): see <lns> for how an opaque line 1 is
  told apart from the start of a two-line define.
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

(* Variable: cont_re  how a two-line define goes on after the comma and the
   blanks after it: "dnl", blanks, the newline, the blanks that start line 2 *)
let cont_re = /dnl[ \t]*\n[ \t]*/

(* Variable: value_re  a VALUE with its quotes, as <define> takes it *)
let value_re = /`?/ . plain_value_re . /'?/ | /`/ . list_value_re . /'/

(* Variable: open_line_re  line 1 of a two-line define *)
let open_line_re = /define\(`?/ . name_re . /'?/ . comma_re . /dnl[ \t]*/

(* Variable: value_line_re  line 2 of a two-line define *)
let value_line_re = /[ \t]*/ . value_re . close_re

(* Variable: define_line_re  exactly the single lines <define> takes *)
let define_line_re =
    /define\(/
  . /`?/ . name_re . /'?/
  . (comma_re . value_re)?
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
 *
 * The two-line define adds two sets of lines: line 1 (open_line_re) is
 * left out of other_line_re (in not_args), and lone_line_re also leaves out
 * line 2 (value_line_re). Both were written by hand too: as subtractions,
 * other_line_re - open_line_re took about a second each time the module
 * loads, and lone_line_re (even with only value_line_re subtracted by
 * Augeas) made loading slower by ~60 ms and type-checking of <lns> take
 * minutes or run out of memory. Both were checked once against the subtractions they stand for
 * (other_line_re = old other_line_re - open_line_re; lone_line_re =
 * any - define_line_re - blank_line_re - open_line_re - value_line_re),
 * each difference being reported empty by Augeas.
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

(* Variable: plain_start  an unquoted, non-empty value: it can not start
   with a blank (m4 skips those) *)
let plain_start = /[^`'(),# \t\n][^`'(),#\n]*/

(* Variable: not_close_mark  a rest, starting with one of ' ( ) , # (i.e.
   neither with a character of an unquoted value nor with "`"), that is not
   an optional "'" + ")" + tail *)
let not_close_mark =
    /[(,#]/ . any
  | /'?\)/ . not_tail
  | /'/ . (any - /\)/ . any)

(* Variable: not_close  a rest, not starting with a character of an
   unquoted value, that is not an optional "'" + ")" + tail *)
let not_close = /`/ . any | // | not_close_mark

(* Variable: not_plain_value  a rest, starting neither with a blank nor with
   "`", that is not an unquoted value + optional "'" + ")" + tail *)
let not_plain_value = plain_start . not_close | // | not_close_mark

(* Variable: not_args  after the comma: not blanks + a valid VALUE + close,
   and not the end of a line 1 either: blanks + "dnl" + blanks, which is
   the one way the rest of a line 1 fits into "blanks . not_plain_value":
   as an unquoted value with nothing after it. *)
let not_args =
  /[ \t]*/ . ( /`/ . not_quoted_value
             | (plain_start - /dnl[ \t]*/)
             | plain_start . (/`/ . any | not_close_mark)
             | //
             | not_close_mark )

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

(* Variable: other_line_re  every line that is neither blank nor a define
   nor line 1 of a two-line define (it may be a line 2) *)
let other_line_re =
    (any - /define\(/ . any - blank_line_re)
  | /define\(/ . not_define

(* Variable: lone_line_re  every line that is neither blank nor a define
   nor line 1 nor line 2 of a two-line define: what may follow a line 1
   that does not start a two-line define. Written as the lines that are
   not "blanks + VALUE + close" (i.e. "blanks . (`not_quoted_value |
   not_plain_value)"), split so as to leave out blank lines and lines
   starting with "define(" (the plain value would be "define" and the rest
   would start with "("), plus the "define(" lines of other_line_re.
   Each piece is kept small: subtracting from the big pieces makes Augeas
   write regexps that slow type-checking down to minutes. *)
let lone_line_re =
    /[ \t]+/ . ( /`/ . not_quoted_value
               | plain_start . not_close
               | not_close_mark )
  | /`/ . not_quoted_value
  | (plain_start - /define/) . not_close
  | /define/ . (/`/ . any | // | /[,#]/ . any | /'?\)/ . not_tail
               | /'/ . (any - /\)/ . any))
  | not_close_mark
  | /define\(/ . not_define

(************************************************************************
 * Group: Line lenses (none of them consumes a newline; only <define>
 * contains one, in the two-line form)
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
   value: setting a comma list always writes it quoted.
   The two-line form lives in the del after the comma: comma_re followed by
   an optional cont_re ("dnl", newline, blanks). A del keeps the text it
   read, so an edited two-line define stays on two lines, while a new node
   (or a one-argument define that gets a value) uses the default ", ".
   Two union branches (one-line / two-line) would give the same tree, which
   Augeas rejects as "overlapping lenses in tree union.put". *)
let define =
  let lq = del /`?/ "`" in
  let rq = del /'?/ "'" in
  let plain = [ label "value" . lq . store plain_value_re . rq ] in
  let list  = [ label "value" . del "`" "`" . store list_value_re . del "'" "'" ] in
  [ key "define" . del "(" "(" . lq . store name_re . rq
  . (del (comma_re . cont_re?) ", " . (plain | list))?
  . del ")" ")" . del tail_re "dnl" ]

(* View: other  any other line, kept whole, except a line 1 *)
let other = [ label "@line" . store other_line_re ]

(* View: open_line  a line 1 that is not followed by a line 2, kept whole *)
let open_line = [ label "@line" . store open_line_re ]

(* View: lone  a line that may follow an opaque line 1: any line except a
   line 1 (a chain of them is taken by open_line+) or a line 2 (that would
   be a two-line define) *)
let lone = [ label "@line" . store lone_line_re ]

(************************************************************************
 * Group: The file
 ************************************************************************)

(* View: nl *)
let nl = del "\n" "\n"

(* View: lns  lines, each with its newline
   A line 1 (open_line_re) followed by a line 2 is a two-line <define>;
   else it is an opaque "@line". As Augeas has no lookahead, an opaque
   line 1 is taken together with what follows it: a run of line 1s, then a
   line that is neither a line 1 nor a line 2 (blank or lone), or a define
   (one-line, or two-line: its line 1 ends the run); or the run ends the
   file. A line 2 not after a line 1 is just an <other> line.
   The run + blank|lone and run + define cases are two branches (not one
   with "blank | define | lone") only for speed: as one, type-checking
   takes ~1 s instead of ~0.1 s. Their trees differ (@line vs define last),
   and so do those of the first branch (a single node). *)
let lns =
    ( (blank | define | other) . nl
    | (open_line . nl)+ . (blank | lone) . nl
    | (open_line . nl)+ . define . nl )*
  . (open_line . nl)*

(* Variable: filter *)
let filter = incl "/etc/mail/sendmail.mc"
           . incl "/etc/mail/submit.mc"

let xfm = transform lns filter
