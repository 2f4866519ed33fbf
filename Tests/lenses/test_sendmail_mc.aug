(*
Module: Test_Sendmail_Mc
  augparse tests for Sendmail_Mc.lns. Run: augparse -I Sources/MTAGuard/Resources/lenses Tests/lenses/test_sendmail_mc.aug
*)
module Test_Sendmail_Mc =

let lns = Sendmail_Mc.lns

(************************************************************************
 * Group: get
 ************************************************************************)

(* Test: the generic-*.mc body: all opaque *)
test lns get "divert(-1)\n#\n# comment\ndivert(0)dnl\nVERSIONID(`$Id: generic-linux.mc,v 8.2 2013-11-22 20:51:08 ca Exp $')\nOSTYPE(linux)dnl\nDOMAIN(generic)dnl\nMAILER(local)dnl\nMAILER(smtp)dnl\n" =
  { "@line" = "divert(-1)" }
  { "@line" = "#" }
  { "@line" = "# comment" }
  { "@line" = "divert(0)dnl" }
  { "@line" = "VERSIONID(`$Id: generic-linux.mc,v 8.2 2013-11-22 20:51:08 ca Exp $')" }
  { "@line" = "OSTYPE(linux)dnl" }
  { "@line" = "DOMAIN(generic)dnl" }
  { "@line" = "MAILER(local)dnl" }
  { "@line" = "MAILER(smtp)dnl" }

(* Test: the canonical define *)
test lns get "define(`confPRIVACY_FLAGS', `authwarnings,restrictqrun')dnl\n" =
  { "define" = "confPRIVACY_FLAGS" { "value" = "authwarnings,restrictqrun" } }

(* Test: unquoted, no blank after the comma, no dnl, empty value,
   one argument, trailing dnl comment, trailing # comment *)
test lns get "define(confBAR, baz)dnl\ndefine(`confX',`10m')dnl\ndefine(`confY', `y')\ndefine(`confE', `')dnl\ndefine(`_USE_ETC_MAIL_')dnl\ndefine(`confG', `1000')dnl 1 seconds\ndefine(`confH', `x') # kept\n" =
  { "define" = "confBAR" { "value" = "baz" } }
  { "define" = "confX" { "value" = "10m" } }
  { "define" = "confY" { "value" = "y" } }
  { "define" = "confE" { "value" = "" } }
  { "define" = "_USE_ETC_MAIL_" }
  { "define" = "confG" { "value" = "1000" } }
  { "define" = "confH" { "value" = "x" } }

(* Test: Debian's two-line define: same tree as the one-line form *)
test lns get "define(`confPRIVACY_FLAGS',dnl\n`needmailhelo,needexpnhelo,needvrfyhelo,restrictqrun,restrictexpand,nobodyreturn,authwarnings')dnl\n" =
  { "define" = "confPRIVACY_FLAGS" { "value" = "needmailhelo,needexpnhelo,needvrfyhelo,restrictqrun,restrictexpand,nobodyreturn,authwarnings" } }

(* Test: two-line defines: blanks around "dnl" and before the value,
   unquoted NAME, value without comma, tails after ")", one-word value
   without quotes (m4 reads it the same way) *)
test lns get "define(`confA', dnl \n\t  `a,b')dnl # c\ndefine(confB,dnl\n`b')\ndefine(`confC',dnl\n  c)dnl\n" =
  { "define" = "confA" { "value" = "a,b" } }
  { "define" = "confB" { "value" = "b" } }
  { "define" = "confC" { "value" = "c" } }

(* Test: a line 1 ("define(`X',dnl") not followed by a valid line 2 stays
   opaque, and so does a line 2 without a line 1: followed by another line,
   by a blank line, by a one-line define, by a value the lens does not take
   apart, by another line 1 (a chain), and at the end of the file *)
test lns get "define(`a',dnl\nMAILER(smtp)dnl\ndefine(`b',dnl\n\ndefine(`c',dnl\ndefine(`d', `x')dnl\ndefine(`e',dnl\n`f(x)')dnl\n`g,h')dnl\ndefine(`i',dnl\ndefine(`j',dnl\ndefine(`k',dnl\n`k')dnl\ndefine(`l',dnl\ndefine(`m',dnl\n" =
  { "@line" = "define(`a',dnl" }
  { "@line" = "MAILER(smtp)dnl" }
  { "@line" = "define(`b',dnl" }
  { }
  { "@line" = "define(`c',dnl" }
  { "define" = "d" { "value" = "x" } }
  { "@line" = "define(`e',dnl" }
  { "@line" = "`f(x)')dnl" }
  { "@line" = "`g,h')dnl" }
  { "@line" = "define(`i',dnl" }
  { "@line" = "define(`j',dnl" }
  { "define" = "k" { "value" = "k" } }
  { "@line" = "define(`l',dnl" }
  { "@line" = "define(`m',dnl" }

(* Test: defines this lens does not take apart stay opaque: nested quotes,
   parentheses, unquoted comma (m4 would read the value as "authwarnings"),
   two macros on one line, blank before ")", text after ")" *)
test lns get "define(`a', ``x'')dnl\ndefine(`a', `f(x)')dnl\ndefine(confPRIVACY_FLAGS, authwarnings,goaway)dnl\ndefine(`a', `1')define(`b', `2')dnl\ndefine(`a', `1' )dnl\ndefine(`a', `1')dnlx\n" =
  { "@line" = "define(`a', ``x'')dnl" }
  { "@line" = "define(`a', `f(x)')dnl" }
  { "@line" = "define(confPRIVACY_FLAGS, authwarnings,goaway)dnl" }
  { "@line" = "define(`a', `1')define(`b', `2')dnl" }
  { "@line" = "define(`a', `1' )dnl" }
  { "@line" = "define(`a', `1')dnlx" }

(* Test: dnl comment lines, commented-out defines, blank lines *)
test lns get "dnl # comment\ndnl define(`confPRIVACY_FLAGS', `goaway')dnl\n\n  \t\n" =
  { "@line" = "dnl # comment" }
  { "@line" = "dnl define(`confPRIVACY_FLAGS', `goaway')dnl" }
  { }
  { }

(* Test: no final newline: not parsed from a raw string (Augeas appends
   the "\n" when it loads a file; see test_sendmail_cf.aug) *)
test lns get "MAILER(smtp)dnl" = *

(************************************************************************
 * Group: put
 ************************************************************************)

(* Test: insert confPRIVACY_FLAGS before the first MAILER line *)
test lns put "OSTYPE(linux)dnl\nMAILER(local)dnl\nMAILER(smtp)dnl\n" after
  insb "define" "@line[. =~ regexp('MAILER.*')][1]";
  set "define[last()]" "confPRIVACY_FLAGS";
  set "define[last()]/value" "authwarnings,noexpn,novrfy"
  = "OSTYPE(linux)dnl\ndefine(`confPRIVACY_FLAGS', `authwarnings,noexpn,novrfy')dnl\nMAILER(local)dnl\nMAILER(smtp)dnl\n"

(* Test: a new define with a value without comma is quoted too *)
test lns put "MAILER(smtp)dnl\n" after
  insb "define" "@line[1]";
  set "define" "confPRIVACY_FLAGS";
  set "define/value" "goaway"
  = "define(`confPRIVACY_FLAGS', `goaway')dnl\nMAILER(smtp)dnl\n"

(* Test: set the value of an existing define *)
test lns put "define(`confPRIVACY_FLAGS', `authwarnings,restrictqrun')dnl\nMAILER(smtp)dnl\n" after
  set "define[.='confPRIVACY_FLAGS']/value" "authwarnings,restrictqrun,noexpn,novrfy"
  = "define(`confPRIVACY_FLAGS', `authwarnings,restrictqrun,noexpn,novrfy')dnl\nMAILER(smtp)dnl\n"

(* Test: spacing, missing dnl and trailing comment are kept *)
test lns put "define(`confPRIVACY_FLAGS',`goaway')  dnl # keep\ndefine(`confX',   `y')\n" after
  set "define[1]/value" "goaway,noexpn";
  set "define[2]/value" "z"
  = "define(`confPRIVACY_FLAGS',`goaway,noexpn')  dnl # keep\ndefine(`confX',   `z')\n"

(* Test: an unquoted value stays unquoted, unless it gets a comma *)
test lns put "define(confA, a)dnl\ndefine(confB, b)dnl\n" after
  set "define[1]/value" "c";
  set "define[2]/value" "b,noexpn"
  = "define(confA, c)dnl\ndefine(confB, `b,noexpn')dnl\n"

(* Test: a one-argument define gets a value *)
test lns put "define(`confA')dnl\n" after
  set "define/value" "x"
  = "define(`confA', `x')dnl\n"

(* Test: an edit leaves opaque and blank lines alone *)
test lns put "divert(-1)\n# c\n\t\ndefine(`confPRIVACY_FLAGS', `authwarnings')dnl\ndnl x\n" after
  set "define/value" "authwarnings,noexpn"
  = "divert(-1)\n# c\n\t\ndefine(`confPRIVACY_FLAGS', `authwarnings,noexpn')dnl\ndnl x\n"

(* Test: set the value of Debian's two-line define: the layout is kept *)
test lns put "dnl # Be somewhat anal in what we allow\ndefine(`confPRIVACY_FLAGS',dnl\n`needmailhelo,needexpnhelo,needvrfyhelo,restrictqrun,restrictexpand,nobodyreturn,authwarnings')dnl\ndnl #\n" after
  set "define[.='confPRIVACY_FLAGS']/value" "needmailhelo,needexpnhelo,needvrfyhelo,restrictqrun,restrictexpand,nobodyreturn,authwarnings,noexpn,novrfy"
  = "dnl # Be somewhat anal in what we allow\ndefine(`confPRIVACY_FLAGS',dnl\n`needmailhelo,needexpnhelo,needvrfyhelo,restrictqrun,restrictexpand,nobodyreturn,authwarnings,noexpn,novrfy')dnl\ndnl #\n"

(* Test: blanks, quoting and tails of a two-line define are kept; a value
   that gets a comma is quoted *)
test lns put "define(`confA', dnl \n\t  `a')dnl # c\ndefine(confB,dnl\n  b)\n" after
  set "define[1]/value" "a,noexpn";
  set "define[2]/value" "b,noexpn"
  = "define(`confA', dnl \n\t  `a,noexpn')dnl # c\ndefine(confB,dnl\n  `b,noexpn')\n"

(* Test: a new define next to a two-line one is written on one line *)
test lns put "define(`confA',dnl\n`a')dnl\nMAILER(smtp)dnl\n" after
  insb "define" "@line[1]";
  set "define[last()]" "confPRIVACY_FLAGS";
  set "define[last()]/value" "authwarnings,noexpn,novrfy"
  = "define(`confA',dnl\n`a')dnl\ndefine(`confPRIVACY_FLAGS', `authwarnings,noexpn,novrfy')dnl\nMAILER(smtp)dnl\n"

(* Test: a new define after an opaque line 1 *)
test lns put "define(`confA',dnl\nMAILER(smtp)dnl\n" after
  insb "define" "@line[2]";
  set "define" "confPRIVACY_FLAGS";
  set "define/value" "goaway"
  = "define(`confA',dnl\ndefine(`confPRIVACY_FLAGS', `goaway')dnl\nMAILER(smtp)dnl\n"

(* Test: remove a two-line define *)
test lns put "OSTYPE(linux)dnl\ndefine(`confPRIVACY_FLAGS',dnl\n`goaway')dnl\nMAILER(smtp)dnl\n" after
  rm "define"
  = "OSTYPE(linux)dnl\nMAILER(smtp)dnl\n"

(* Test: remove a define *)
test lns put "OSTYPE(linux)dnl\ndefine(`confPRIVACY_FLAGS', `goaway')dnl\nMAILER(smtp)dnl\n" after
  rm "define"
  = "OSTYPE(linux)dnl\nMAILER(smtp)dnl\n"
