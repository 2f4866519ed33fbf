(*
Module: Exim
  Parses exim's run time configuration (spec chapter 6): Debian's single
  file (exim4.conf.template, the generated exim4.conf), a plain upstream
  exim.conf, and each file of Debian's split layout (conf.d/main/*,
  conf.d/acl/*, conf.d/router/*, ...) on its own. Enough is modelled to
  match main options, macros, named lists, sections, ACLs and their
  statements, and driver instances; every byte is kept, and whatever is not
  modelled is an opaque "@line" node.

About: Tree shape (top level of a file)
  - blank line             : { }
  - # text                 : { "#comment" = "<text after the #, verbatim>" }
  - #name = value          : { "#name" = "value" }  a commented-out option
                             ("#" right before a lower-case name; "#name"
                             alone, "#name =" too). "# name = v" (a blank after
                             the "#") is an ordinary comment.
  - name = value           : { "name" = "value" }  main (or local_scan) option
    name                   : { "name" }            boolean, also no_name, not_name
    name =                 : { "name" = "" }
    hide name = value      : { "name" = "value" { "hide" } }
  - NAME = value           : { "NAME" = "value" }  macro (upper-case first letter)
    NAME == value          : { "NAME" = "value" { "redefine" } }
    NAME =                 : { "NAME" }            empty macro
  - hostlist N = value     : { "hostlist" = "N" { "value" = "value" } }
                             (also domainlist, addresslist, localpartlist,
                             and their _cache forms)
  - .ifdef M / .include F  : { "@ifdef" = "M" }, { "@include" = "F" }, { "@else" },
                             ... (ifdef ifndef elifdef elifndef else endif
                             include include_if_exists)
  - begin acl              : { "begin" = "acl" }   a section start, a marker
                             only: what follows is its sibling, not its child
  - an ACL definition      : { "acl" = "NAME" <statements and junk> }
  - a driver instance      : { "instance" = "NAME" <options and junk> }
                             (routers, transports, authenticators)
  - anything else          : { "@line" = "<whole line, less leading blanks>" }
                             (retry and rewrite rules, lines the lens does
                             not know)

About: Inside an ACL
  - statement              : { "accept" <conditions> }   one node per verb
                             (accept defer deny discard drop require warn)
  - condition or modifier  : { "hosts" = "<value>" }  on the verb's line or
                             on a line of its own
    !name = value          : { "name" = "value" { "not" } }
    endpass                : { "endpass" }
    set acl_m_x = value    : { "set" { "acl_m_x" = "value" } }
  - between statements     : { }, { "#comment" = ... }, { "@ifdef" = ... }
  Blank, comment and .ifdef/.else/.endif lines that sit between a statement's
  conditions (or between its verb and first condition on a later line) are
  kept inside the next condition's leading separator: they survive every
  save but are not nodes.
  A driver instance holds option nodes as the main section does, with
  blank/comment/directive nodes between them.

  Example paths:
    /files/etc/exim4/exim4.conf/acl_smtp_vrfy
    /files/etc/exim4/exim4.conf/acl[.='acl_check_vrfy']/*[1]      first statement
    /files/etc/exim4/exim4.conf/acl[.='acl_check_rcpt']/accept[hosts=':']
    /files/etc/exim4/exim4.conf/instance[.='remote_smtp']/driver

About: Where a block ends
  An ACL or instance ("NAME:" line) runs up to the next "NAME:" line, macro
  definition or "begin" line: exim itself ends an ACL only there (acl.c,
  acl_read), and so every comment, blank or directive line after the last
  statement belongs to the block. A header followed by nothing but such
  lines is an "instance" (an empty ACL looks just the same).
  Which kind a block is comes from its content, not from the section it is
  in, so that a conf.d/acl or conf.d/router file (which has no "begin" line)
  reads as the same tree as the single file.

About: Values
  A value runs from its first to its last non-blank character and keeps,
  verbatim, any continuation: a backslash at the end of a line (trailing
  blanks allowed) continues the value on the next line; comment lines in
  between are skipped by exim (readconf.c, get_config_line) and are kept
  in the value as written. The logical value is the text with each
  "\\<blanks>\n<comment lines><leading blanks>" removed. A value cannot end
  in a backslash (exim would continue it), so a line ending in "\\" that is
  followed by a blank line does not parse.

About: Line structure
  Top-level lines end with a "\n" del that also holds the line's trailing
  blanks; the leading blanks of a top-level line are a del outside its node,
  so they stay on their line when the node is renamed (see "Commenting
  out"). Inside an ACL or instance every item starts with its own newline
  (the newline that ends the previous line), and the block's last line is
  ended by the top-level "\n". Augeas appends a "\n" to a file without one
  when it loads it (augparse tests see the raw string).

About: Commenting out
  rename /files/F/acl_smtp_vrfy #acl_smtp_vrfy
  turns "acl_smtp_vrfy = accept" into "#acl_smtp_vrfy = accept". The layout
  inside the node (the blanks around "=") goes by label (put.c, dict_lookup):
  a renamed node takes that of the next unused "#acl_smtp_vrfy" line, or
  the default " = " when there is none, so a line written "name=value"
  would come back as "#name = value": callers check the result. Only a
  one-line value can be commented out this way (the continuation lines of a
  longer one would stay active).

About: Unsupported
  - "begin" in upper case, macros that expand to verbs or "NAME:" lines,
    .include in the middle of a continued value: exim reads them, this lens
    keeps the line as "@line" (or fails to parse).
  - a continuation followed by a blank line; an ACL or instance line that is
    neither an option, a condition, a verb nor junk: the file does not load.
*)
module Exim =

autoload xfm

(************************************************************************
 * Group: Words
 ************************************************************************)

(* Variable: verb_re  the ACL verbs (acl.c, verbs[]) *)
let verb_re = /accept|defer|deny|discard|drop|require|warn/

(* Variable: directive_re  the dot directives (readconf.c, cond_list) *)
let directive_re = /ifdef|ifndef|elifdef|elifndef|else|endif|include|include_if_exists/

(* Variable: list_re  named list kinds *)
let list_re = /(domain|host|address|localpart)list(_cache)?/

(* Variable: name_re  an option, condition or modifier name; never one of
   the words that start other kinds of line, nor the label of another node *)
let name_re = /[a-z][a-z0-9_]*/
            - (verb_re | list_re | /begin|hide|set|acl|instance|not|redefine|value/)

(* Variable: macro_re  a macro name *)
let macro_re = /[A-Z][A-Za-z0-9_]*/

(* Variable: block_name_re  the name of an ACL or driver instance *)
let block_name_re = /[A-Za-z][A-Za-z0-9_]*/

(************************************************************************
 * Group: Values
 ************************************************************************)

(* Variable: line_value_re  one line, first to last non-blank *)
let line_value_re = /[^ \t\n]([^\n]*[^ \t\n])?/

(* Variable: value_starting  a value whose first character is in FIRST,
   continued over lines by a final backslash; the lines after the first
   are comment lines (skipped by exim, kept here) or text. (In an Augeas
   regexp literal "\\\\" is one backslash outside [...], "\\" inside.) *)
let value_starting (first:regexp) =
  let single = (first - /\\\\/) | first . /[^\n]*[^ \t\n\\]/ in
  let start  = (first . /[^\n]*/)? . /\\\\[ \t]*\n/ in
  let middle = /([ \t]*#[^\n]*|[^\n]*\\\\[ \t]*)\n/ in
  let last   = /[ \t]*([^ \t\n#\\]|[^ \t\n#][^\n]*[^ \t\n\\])/ in
  single | start . middle* . last

(* Variable: value_re  a value *)
let value_re = value_starting /[^ \t\n]/

(* View: setting  HEAD (the key and what comes before it) then "= value";
   or "=" with nothing after it, or nothing at all: both without a value
   (exim reads "name =" as an empty string for a string option and "name"
   as "true" for a boolean one; which one it is depends on the option, and
   a hidden del keeps which was written). Augeas takes an empty store for
   no value, so the two forms can not be told apart in the tree. *)
let setting (head:lens) (value:regexp) =
    [ head . del /[ \t]*=/ " =" . del /[ \t]*/ " " . store value ]
  | [ head . del /([ \t]*=)?/ "" ]

(************************************************************************
 * Group: The catch-all
 ************************************************************************)

(* Variable: other_re  a top-level line no other lens takes, written out by
   hand (a subtraction from "any line" makes augparse run for many
   minutes): a line that starts with neither a letter, "#" nor ".", or a
   word of letters, digits and "_" followed at once by another character
   than a blank, "=" or ":" (user@domain, host.example, ...). A line that
   starts with a word, blanks and then something other than "=" (a retry
   rule "localhost * F,1h,10m") is not taken: such a file does not load. *)
let other_re =
    /[^A-Za-z#. \t\n]([^\n]*[^ \t\n])?/
  | /[A-Za-z][A-Za-z0-9_]*[^A-Za-z0-9_ \t\n=:]([^\n]*[^ \t\n])?/

(************************************************************************
 * Group: Top-level lines (no leading blanks, no newline)
 ************************************************************************)

(* Variable: comment_re  what follows "#" on a comment line: anything but
   a lower-case word alone or followed by "=" (see commented_option) *)
let comment_re =
    /([^a-z \t\n][^\n]*[^ \t\n]|[^a-z \t\n])?/
  | /[ \t]+[^ \t\n]([^\n]*[^ \t\n])?/
  | /[a-z][a-z0-9_]*[^a-z0-9_ \t\n=]([^\n]*[^ \t\n])?/
  | /[a-z][a-z0-9_]*[ \t]+[^ \t\n=]([^\n]*[^ \t\n])?/
  | /comment([ \t]*=([^\n]*[^ \t\n])?)?/

(* View: comment *)
let comment = [ label "#comment" . del "#" "#" . store comment_re ]

(* View: commented_option  "#name = value" *)
let commented_option = setting (key (/#[a-z][a-z0-9_]*/ - /#comment/)) line_value_re

(* View: directive  ".ifdef X", ".endif", ".include F": { "@ifdef" = "X" } *)
let directive =
  let one (word:string) =
    [ del ("." . word) ("." . word) . label ("@" . word)
    . (del /[ \t]+/ " " . store line_value_re)? ] in
  one "ifdef" | one "ifndef" | one "elifdef" | one "elifndef"
  | one "else" | one "endif" | one "include" | one "include_if_exists"

(* View: begin  "begin acl" *)
let begin = [ key "begin" . del /[ \t]+/ " " . store /[^ \t\n:=]([^\n]*[^ \t\n])?/ ]

(* View: macro  "NAME = value", "NAME == value" *)
let macro =
  [ key macro_re . del /[ \t]*=/ " ="
  . [ label "redefine" . del "=" "=" ]?
  . (del /[ \t]*/ " " . store (value_starting /[^ \t\n=]/))? ]

(* View: hide *)
let hide = [ label "hide" . del /hide[ \t]+/ "hide " ]

(* View: option  "name = value", "name", "hide name = value" *)
let option = setting (hide? . key name_re) value_re

(* View: named_list  "hostlist relay_from_hosts = 127.0.0.1" *)
let named_list =
  [ key list_re . del /[ \t]+/ " " . store /[A-Za-z0-9_]+/
  . ( [ label "value" . del /[ \t]*=/ " =" . del /[ \t]*/ " " . store value_re ]
    | [ label "value" . del /[ \t]*=/ " =" ] ) ]

(* View: other *)
let other = [ label "@line" . store other_re ]

(************************************************************************
 * Group: Items inside an ACL or instance (each starts with its newline)
 ************************************************************************)

(* Variable: nl  the end of the previous line (with its trailing blanks) *)
let nl = /[ \t]*\n/

let blank_item = [ del nl "\n" ]

let comment_item =
  [ del (nl . /[ \t]*#/) "\n#" . label "#comment" . store /([^\n]*[^ \t\n])?/ ]

let directive_item =
  let one (word:string) =
    [ del (nl . /[ \t]*\./ . word) ("\n." . word) . label ("@" . word)
    . (del /[ \t]+/ " " . store line_value_re)? ] in
  one "ifdef" | one "ifndef" | one "elifdef" | one "elifndef"
  | one "else" | one "endif" | one "include" | one "include_if_exists"

let junk_item = blank_item | comment_item | directive_item

let option_item = setting (del (nl . /[ \t]*/) "\n  " . hide? . key name_re) value_re

(* Variable: cond_sep  newline, any blank/comment/directive lines, indent *)
let cond_sep =
  let junk = /[ \t]*(#[^\n]*)?/ | /[ \t]*\./ . directive_re . /([ \t][^\n]*)?/ in
  nl . (junk . /\n/)* . /[ \t]*/

(* Variable: cond_name_re  a condition or modifier name other than "set"
   and "endpass", written out by hand: the same regexp as a subtraction
   is too big for the matcher inside an ACL's iteration (a file with three
   statements in a row failed to load) *)
let cond_name_re =
  /([a-df-rt-z]|s([a-df-z0-9_]|e([a-su-z0-9_]|t[a-z0-9_]))|e([a-mo-z0-9_]|n([a-ce-z0-9_]|d([a-oq-z0-9_]|p([b-z0-9_]|a([a-rt-z0-9_]|s([a-rt-z0-9_]|s[a-z0-9_])))))))[a-z0-9_]*|s|se|e|en|end|endp|endpa|endpas/

(* View: cond_body  a condition or modifier after SEP: always with "="
   (so that a verb is never read as one), or "endpass", or
   "set acl_xxx = value" *)
let cond_body (sep:lens) =
  let head = sep . [ label "not" . del /![ \t]*/ "!" ]? . key cond_name_re in
    [ head . del /[ \t]*=/ " =" . del /[ \t]*/ " " . store value_re ]
  | [ head . del /[ \t]*=/ " =" ]
  | [ sep . key "endpass" ]
  | [ sep . key "set" . del /[ \t]+/ " "
    . setting (key /acl_[cm][A-Za-z0-9_]*/) value_re ]

(* View: statement  a verb, its conditions on its line and the lines after *)
let statement =
  let first = cond_body (del (/[ \t]+/ | cond_sep) " ") in
  let next  = cond_body (del cond_sep "\n        ") in
  [ del (nl . /[ \t]*/) "\n  " . key verb_re . (first . next*)? ]

(* View: header  "NAME:" *)
let header = store block_name_re . del /[ \t]*:/ ":"

let acl = [ label "acl" . header . junk_item* . statement . (junk_item | statement)* ]

let instance = [ label "instance" . header . (junk_item | option_item)* ]

(************************************************************************
 * Group: The file
 ************************************************************************)

let indent = del /[ \t]*/ ""
let eol = del nl "\n"

let blank_line = [ del nl "\n" ]

let free_line =
    blank_line
  | indent . (comment | commented_option | directive | begin | macro
              | named_list | option | other) . eol

let stop_line = indent . (macro | begin) . eol

let block_line = indent . (acl | instance) . eol

(* View: lns  lines before the first block; then blocks, each run of them
   ended by a macro or "begin" line *)
let lns = free_line* . (block_line+ . stop_line . free_line*)* . block_line*

(* Variable: filter *)
let filter = incl "/etc/exim4/exim4.conf.template"
           . incl "/etc/exim4/exim4.conf"
           . incl "/etc/exim4/conf.d/*/*"
           . incl "/etc/exim/exim.conf"
           . incl "/etc/exim.conf"
           . excl "*~" . excl "*.dpkg-*" . excl "*.ucf-*" . excl "*.bak"

let xfm = transform lns filter
