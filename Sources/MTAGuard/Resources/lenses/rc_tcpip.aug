(*
Module: Rc_Tcpip
  Parses AIX /etc/rc.tcpip just enough to comment out and back in the
  "start" lines that launch the TCP/IP daemons (e.g. the sendmail line,
  KISA SRV-005/U-45). Every other line is kept verbatim.

About: Tree shape
  - start PROG REST     : { "start" = "PROG" { "args" = "REST" } }
  - #start PROG REST    : { "#start" = "PROG" { "args" = "REST" } }
                          (no blank between "#" and "start")
    Both only at column 0, with at least one blank between "start" and PROG.
    PROG is the first run of non-blanks; REST runs from the next non-blank
    to the last non-blank of the line, verbatim (quotes, inner blanks); no
    "args" child when there is no REST. The blanks between "start", PROG
    and REST, and trailing blanks, are kept in hidden del nodes.
  - any other "#" line  : { "#comment" = "<text after the #, verbatim>" }
                          ("#", "# start ...", "#!/bin/ksh", "#startup", "#start")
  - blank line          : { }            (a node without label, blanks kept)
  - anything else       : { "@line" = "<whole line verbatim>" }
                          (shell code; indented "start" lines; "start" with
                           nothing after it)

About: Commenting out and back in
  rename /files/etc/rc.tcpip/start[. = '/usr/lib/sendmail'] #start
  rename /files/etc/rc.tcpip/#start[. = '/usr/lib/sendmail'] start
  Both labels come from ONE lens, [ key /#?start/ ... ]: the "#" is part
  of the key, so the label is written back as the line's first word and
  nothing else about the line depends on it. (Two branches, key "start" |
  key "#start", behave the same in Augeas 1.14 -- checked -- but would
  only duplicate the lens.)

  Where the hidden blanks come from on save: Augeas matches a subtree's
  saved layout ("skeleton") to tree nodes BY LABEL, in file order (put.c,
  dict_lookup), not by node identity. After a rename the node therefore
  takes the blanks of the next not-yet-used line with its new label, and
  each later node of either label shifts by one; a node left without a
  skeleton gets the defaults (one space). When every start/#start line
  uses single blanks -- as in the stock AIX file -- the output is
  byte-exact; a start line with tabs or double blanks may see those move
  to a neighbouring start line on a rename. The trailing blanks of a line
  sit outside the subtree and stay on their line (positional).

About: Why "#?start" can not capture "#comment" or "@line"
  On put, Augeas picks the branch whose key regexp matches the node's
  label: /#?start/ matches exactly "start" and "#start", never "#comment"
  or "@line", and the "#comment"/"@line" labels are constants that no other
  lens can produce. On get, the regexps of the four line kinds are
  disjoint by construction (a "#" line is a start line iff "#start" is
  followed by blanks and a non-blank, otherwise it is a comment).

About: Line structure
  As in Sendmail_Cf: each line is a node followed by a constant "\n" del.
  Augeas appends a "\n" to a file without a final newline when it loads
  it, so such a file loads; a save that writes the file (after an edit)
  adds that newline.

About: Performance
  The catch-all regexps are written out by hand (no regexp subtraction);
  see Sendmail_Cf.
*)
module Rc_Tcpip =

autoload xfm

(************************************************************************
 * Group: Regexps
 ************************************************************************)

(* Variable: after_s
   What may follow an initial "s" so that the text is NOT
   "start" + blanks + a non-blank (+ anything). *)
let after_s =
    /([^t\n][^\n]*)?/
  | /t([^a\n][^\n]*)?/
  | /ta([^r\n][^\n]*)?/
  | /tar([^t\n][^\n]*)?/
  | /tart([^ \t\n][^\n]*)?/
  | /tart[ \t]+/

(* Variable: comment_re  text after "#" on a line that is not a #start line *)
let comment_re = /([^s\n][^\n]*)?/ | /s/ . after_s

(* Variable: other_re  a line that is neither blank, nor "#...", nor a start line *)
let other_re =
    /[ \t]+[^ \t\n][^\n]*/
  | /[^ \t\n#s][^\n]*/
  | /s/ . after_s

(* Variable: blanks *)
let blanks = /[ \t]+/

(* Variable: word  a run of non-blanks *)
let word = /[^ \t\n]+/

(* Variable: rest  from a non-blank to a non-blank *)
let rest = /[^ \t\n]([^\n]*[^ \t\n])?/

(************************************************************************
 * Group: Line lenses (none of them contains or consumes a newline)
 ************************************************************************)

(* View: start  "start PROG REST" or "#start PROG REST"; trailing blanks
   are kept outside the subtree, on their line *)
let start =
  let args = [ del blanks " " . label "args" . store rest ] in
  [ key /#?start/ . del blanks " " . store word . args? ]
  . del /[ \t]*/ ""

(* View: comment  any other "#" line; the text after "#", verbatim *)
let comment = [ label "#comment" . del "#" "#" . store comment_re ]

(* View: blank  an empty line or a line of blanks *)
let blank = [ del /[ \t]*/ "" ]

(* View: other  any other line, kept whole *)
let other = [ label "@line" . store other_re ]

(* View: line  exactly one line, without its newline *)
let line = start | comment | blank | other

(************************************************************************
 * Group: The file
 ************************************************************************)

(* View: lns *)
let lns = (line . del "\n" "\n")*

(* Variable: filter *)
let filter = incl "/etc/rc.tcpip"

let xfm = transform lns filter
