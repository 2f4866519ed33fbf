(*
Module: Sendmail_Cf
  Parses a generated sendmail configuration file (sendmail.cf, submit.cf)
  just enough to edit long-name options, and the PrivacyOptions flags in
  particular. Every other line is kept verbatim as an opaque "@line" node.

About: Tree shape
  - "#" line           : { "#comment" = "<text after the #, verbatim>" }
  - blank line         : { }            (a node without label, blanks kept)
  - O Name=Value       : { "Name" = "Value" }   (no value when empty)
  - O PrivacyOptions=a,b : { "PrivacyOptions" { "flag" = "a" } { "flag" = "b" } }
                         (name matched case-insensitively; the label keeps
                          the spelling found in the file)
  - anything else      : { "@line" = "<whole line verbatim>" }

About: Line structure
  Each line is a node followed by its "\n": file = (line "\n")*. A file
  whose last line lacks the final newline loads all the same, because
  Augeas itself appends a "\n" to the text when it loads a file (and so
  writes that newline back when it saves the file after an edit; a save
  with no change writes nothing). augparse tests (test ... get) see the
  raw string, so there a last line needs its "\n". Every newline del is the
  constant "\n", so inserting or removing nodes never moves whitespace
  from one line to another, and a node appended at the end of the file
  comes out as a full line.

About: Why "@line"
  An option key regex starts with a letter, so it can never produce the
  labels "@line" or "#comment": put can not mistake an opaque line for an
  option (a bug seen with an earlier lens whose catch-all label was "line").

About: sendmail's own rules (readcf.c, setoption)
  A long option name needs a space right after the "O" (this lens takes
  any blanks there); "OPx" is the old-style one-letter option "P" and stays
  opaque. Option names are compared case-insensitively by sendmail. Names
  may hold "-" (Timeout.queuereturn.non-urgent).
*)
module Sendmail_Cf =

autoload xfm

(************************************************************************
 * Group: Regexps shared by the lenses and by the catch-all exclusion
 ************************************************************************)

(* Variable: name_re  a long option name, e.g. Timeout.queuereturn.non-urgent *)
let name_re = /[A-Za-z][A-Za-z0-9._-]*/

(* Variable: privacy_re  PrivacyOptions, in any letter case *)
let privacy_re = /privacyoptions/i

(* Variable: option_line_re  every line handled by <option> or <privacy>.
   Exactly one space after "O" and only spaces before "=": sendmail (readcf.c,
   setoption) takes "O" plus a tab as a one-letter option and a second space
   as part of the name, and ignores such a line as an unknown option; so does
   this lens, which keeps it as an opaque line. *)
let option_line_re = /O [A-Za-z][A-Za-z0-9._-]* *=[^\n]*/

(* Variable: comment_line_re  every line handled by <comment> *)
let comment_line_re = /#[^\n]*/

(* Variable: blank_line_re  every line handled by <blank> *)
let blank_line_re = /[ \t]*/

(* Variable: other_line_re  whatever no other lens takes *)
let other_line_re = /[^\n]*/ - comment_line_re - blank_line_re - option_line_re

(************************************************************************
 * Group: Line lenses (none of them contains or consumes a newline)
 ************************************************************************)

(* View: comment  "#..." -- everything after the "#", verbatim
   (form feeds, tabs, trailing blanks included; may be empty) *)
let comment = [ label "#comment" . del "#" "#" . store /[^\n]*/ ]

(* View: blank  an empty line or a line of blanks *)
let blank = [ del blank_line_re "" ]

(* Variable: opt_start  "O" and the one space before the option name *)
let opt_start = del "O " "O "

(* View: option  "O Name=Value"; the value runs from its first to its last
   non-blank character; trailing blanks are kept in a del of their own. *)
let option =
  let value = store /[^ \t\n]([^\n]*[^ \t\n])?/ in
  let trailing = del /[ \t]*/ "" in
  [ opt_start . key (name_re - privacy_re)
  . del / *=[ \t]*/ "=" . (value . trailing)? ]

(* View: privacy  "O PrivacyOptions=flag,flag ..."
   A flag is a run of characters other than blanks and commas; separators
   are runs of blanks and commas, kept as found. A new flag appended at the
   end gets the separator ","; blanks/commas before the first flag and
   after the last one are kept in place. Any text after "=" parses. *)
let privacy =
  let flag = [ label "flag" . store /[^ \t\n,]+/ ] in
  let sep  = del /[ \t,]+/ "," in
  let lead = del /[ \t,]*/ "" in
  let trail = del /[ \t,]*/ "" in
  [ opt_start . key privacy_re . del / *=/ "="
  . (lead . flag . (sep . flag)*)? . trail ]

(* View: other  any other line (rules, D/C/F/K/M/H/S/V lines, old-style
   one-letter options, continuation lines led by a tab, "O Name" with no
   "=", ...), kept whole *)
let other = [ label "@line" . store other_line_re ]

(* View: line  exactly one line, without its newline *)
let line = comment | blank | option | privacy | other

(************************************************************************
 * Group: The file
 ************************************************************************)

(* View: lns  lines, each with its newline; see "Line structure" above *)
let lns = (line . del "\n" "\n")*

(* Variable: filter *)
let filter = incl "/etc/mail/sendmail.cf"
           . incl "/etc/mail/submit.cf"

let xfm = transform lns filter
