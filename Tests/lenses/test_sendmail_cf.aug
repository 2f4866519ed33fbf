(*
Module: Test_Sendmail_Cf
  augparse tests for Sendmail_Cf.lns. Run: augparse -I Sources/MTAGuard/Resources/lenses Tests/lenses/test_sendmail_cf.aug
  (Note: the comment-with-form-feed tests hold a literal form feed, ^L.)
*)
module Test_Sendmail_Cf =

let lns = Sendmail_Cf.lns

(************************************************************************
 * Group: one line of each kind found in m4 output (generic-*.cf)
 ************************************************************************)

(* Test: header of a generated file *)
test lns get "#\n######################################################################\nV10/Berkeley\n" =
  { "#comment" = "" }
  { "#comment" = "#####################################################################" }
  { "@line" = "V10/Berkeley" }

(* Test: form feed in a comment line (m4 writes "#^L") *)
test lns get "#\n#########\n" =
  { "#comment" = "" }
  { "#comment" = "########" }

(* Test: tab-led continuation lines of a mailer definition *)
test lns get "Mlocal,		P=/usr/bin/procmail, F=lsDFMAw5:/|@qSPfhn9, S=EnvFromL/HdrFromL, R=EnvToL/HdrToL,\n		T=DNS/RFC822/X-Unix,\n		A=procmail -Y -a $h -d $u\n" =
  { "@line" = "Mlocal,\t\tP=/usr/bin/procmail, F=lsDFMAw5:/|@qSPfhn9, S=EnvFromL/HdrFromL, R=EnvToL/HdrToL," }
  { "@line" = "\t\tT=DNS/RFC822/X-Unix," }
  { "@line" = "\t\tA=procmail -Y -a $h -d $u" }

(* Test: macros, classes, maps, headers, rule sets, rules, version *)
test lns get "DZ8.17.1\nCwlocalhost\nFw-o /etc/mail/local-host-names\nKdequote dequote\nH?P?Return-Path: <$g>\nScanonify=3\nR$*\t\t\t$#local $: $1\nV10/Berkeley\n" =
  { "@line" = "DZ8.17.1" }
  { "@line" = "Cwlocalhost" }
  { "@line" = "Fw-o /etc/mail/local-host-names" }
  { "@line" = "Kdequote dequote" }
  { "@line" = "H?P?Return-Path: <$g>" }
  { "@line" = "Scanonify=3" }
  { "@line" = "R$*\t\t\t$#local $: $1" }
  { "@line" = "V10/Berkeley" }

(* Test: long-name options as m4 writes them, one of them repeated *)
test lns get "O SevenBitInput=False\nO AliasFile=/etc/mail/aliases\nO DaemonPortOptions=Name=MTA\nO DaemonPortOptions=Port=587, Name=MSA, M=E\nO Timeout.queuereturn=5d\nO SmtpGreetingMessage=$j Sendmail $v/$Z; $b\nO OperatorChars=.:%@!^/[]+\n" =
  { "SevenBitInput" = "False" }
  { "AliasFile" = "/etc/mail/aliases" }
  { "DaemonPortOptions" = "Name=MTA" }
  { "DaemonPortOptions" = "Port=587, Name=MSA, M=E" }
  { "Timeout.queuereturn" = "5d" }
  { "SmtpGreetingMessage" = "$j Sendmail $v/$Z; $b" }
  { "OperatorChars" = ".:%@!^/[]+" }

(* Test: commented-out options stay comments *)
test lns get "#O PrivacyOptions=noexpn\n#O MaxMessageSize=0\n" =
  { "#comment" = "O PrivacyOptions=noexpn" }
  { "#comment" = "O MaxMessageSize=0" }

(* Test: PrivacyOptions as m4 writes it *)
test lns get "O PrivacyOptions=authwarnings\n" =
  { "PrivacyOptions" { "flag" = "authwarnings" } }

(************************************************************************
 * Group: odd spellings
 ************************************************************************)

(* Test: spaces around "=", trailing blanks *)
test lns get "O AliasFile = /etc/mail/aliases\nO LogLevel=9   \nO ForwardPath=\nO ForwardPath=  \n" =
  { "AliasFile" = "/etc/mail/aliases" }
  { "LogLevel" = "9" }
  { "ForwardPath" }
  { "ForwardPath" }

(* Test: what sendmail ignores as unknown options stays opaque: two spaces or
   a tab after "O", a tab before "=" *)
test lns get "O  AliasFile=/etc/aliases\nO\tPrivacyOptions=goaway\nO  PrivacyOptions=goaway\nO LogLevel\t=9\n" =
  { "@line" = "O  AliasFile=/etc/aliases" }
  { "@line" = "O\tPrivacyOptions=goaway" }
  { "@line" = "O  PrivacyOptions=goaway" }
  { "@line" = "O LogLevel\t=9" }

(* Test: option names with a dash (Timeout.queuereturn.non-urgent) *)
test lns get "O Timeout.queuereturn.non-urgent=7d\n" =
  { "Timeout.queuereturn.non-urgent" = "7d" }

(* Test: no "=", old-style one-letter options, "O" without a blank *)
test lns get "O MaxMessageSize\nOp\nOA/etc/mail/aliases\nOPrivacyOptions=goaway\nO\n" =
  { "@line" = "O MaxMessageSize" }
  { "@line" = "Op" }
  { "@line" = "OA/etc/mail/aliases" }
  { "@line" = "OPrivacyOptions=goaway" }
  { "@line" = "O" }

(* Test: PrivacyOptions separators: ", ", " ,", blanks; case of the name *)
test lns get "O PrivacyOptions = authwarnings, novrfy ,noexpn restrictqrun\nO privacyOptions=goaway\n" =
  { "PrivacyOptions"
    { "flag" = "authwarnings" } { "flag" = "novrfy" }
    { "flag" = "noexpn" } { "flag" = "restrictqrun" } }
  { "privacyOptions" { "flag" = "goaway" } }

(* Test: empty PrivacyOptions, with and without blanks *)
test lns get "O PrivacyOptions=\nO PrivacyOptions =  \n" =
  { "PrivacyOptions" }
  { "PrivacyOptions" }

(* Test: leading and trailing separators *)
test lns get "O PrivacyOptions= ,authwarnings,restrictqrun,  \n" =
  { "PrivacyOptions" { "flag" = "authwarnings" } { "flag" = "restrictqrun" } }

(* Test: blank lines, with and without blanks *)
test lns get "\n   \n\t\n" =
  { } { } { }

(* Test: comment with trailing blanks and tabs *)
test lns get "# trailing  \t\n" =
  { "#comment" = " trailing  \t" }

(* Test: an empty file (no node) gets a first line *)
test lns put "" after set "LogLevel" "9" = "O LogLevel=9\n"

(* Note: no final newline
   Augeas appends a "\n" to a file's text when it loads it (transform.c,
   append_newline), so the lens only ever sees text ending in "\n";
   Tests/lenses/run.sh loads fixtures whose last line has no newline
   (odd-spellings.cf, odd-defines.mc). A raw string without it does not
   parse: *)
test lns get "O LogLevel=9" = *

(************************************************************************
 * Group: put
 ************************************************************************)

(* Test: add noexpn and novrfy as the m4 output has it *)
test lns put "DZ8.17.1\nO PrivacyOptions=authwarnings\n#O x\n" after
  set "PrivacyOptions/flag[last()+1]" "noexpn";
  set "PrivacyOptions/flag[last()+1]" "novrfy"
  = "DZ8.17.1\nO PrivacyOptions=authwarnings,noexpn,novrfy\n#O x\n"

(* Test: existing separators are kept, the new one is "," *)
test lns put "O PrivacyOptions = authwarnings, novrfy ,restrictqrun\n" after
  set "PrivacyOptions/flag[last()+1]" "noexpn"
  = "O PrivacyOptions = authwarnings, novrfy ,restrictqrun,noexpn\n"

(* Test: trailing blanks stay at the end of the line *)
test lns put "O PrivacyOptions=authwarnings  \n" after
  set "PrivacyOptions/flag[last()+1]" "noexpn"
  = "O PrivacyOptions=authwarnings,noexpn  \n"

(* Test: empty PrivacyOptions *)
test lns put "O PrivacyOptions=\n" after
  set "PrivacyOptions/flag[last()+1]" "noexpn";
  set "PrivacyOptions/flag[last()+1]" "novrfy"
  = "O PrivacyOptions=noexpn,novrfy\n"

(* Test: case of the option name is kept *)
test lns put "O privacyoptions=goaway\n" after
  set "privacyoptions/flag[last()+1]" "noexpn"
  = "O privacyoptions=goaway,noexpn\n"

(* Test: remove a flag in the middle, at the end, the only one *)
test lns put "O PrivacyOptions=authwarnings,goaway,restrictqrun\n" after
  rm "PrivacyOptions/flag[.='goaway']"
  = "O PrivacyOptions=authwarnings,restrictqrun\n"
test lns put "O PrivacyOptions=authwarnings, restrictqrun\n" after
  rm "PrivacyOptions/flag[2]"
  = "O PrivacyOptions=authwarnings\n"
test lns put "O PrivacyOptions=goaway\n" after
  rm "PrivacyOptions/flag"
  = "O PrivacyOptions=\n"

(* Test: replace a flag in place *)
test lns put "O PrivacyOptions=authwarnings,goaway\n" after
  set "PrivacyOptions/flag[.='goaway']" "noexpn"
  = "O PrivacyOptions=authwarnings,noexpn\n"

(* Test: a new PrivacyOptions line; a new option *)
test lns put "O LogLevel=9\n" after
  insa "PrivacyOptions" "LogLevel";
  set "PrivacyOptions/flag" "noexpn";
  insa "MaxHopCount" "PrivacyOptions";
  set "MaxHopCount" "25"
  = "O LogLevel=9\nO PrivacyOptions=noexpn\nO MaxHopCount=25\n"

(* Test: change an option value; trailing blanks and spacing kept *)
test lns put "O LogLevel = 9   \nO AliasFile=/etc/mail/aliases\n" after
  set "LogLevel" "14"
  = "O LogLevel = 14   \nO AliasFile=/etc/mail/aliases\n"

(* Test: an edit keeps opaque, comment (form feed) and continuation lines *)
test lns put "#\nMlocal,\tP=/bin/x,\n\t\tA=x $u\n  \nO PrivacyOptions=authwarnings\nR$*\t$@ $1\n" after
  set "PrivacyOptions/flag[last()+1]" "novrfy"
  = "#\nMlocal,\tP=/bin/x,\n\t\tA=x $u\n  \nO PrivacyOptions=authwarnings,novrfy\nR$*\t$@ $1\n"

(* Test: a node appended at the end of the file is a full line *)
test lns put "R$* $@ $1\n" after
  set "PrivacyOptions/flag" "noexpn"
  = "R$* $@ $1\nO PrivacyOptions=noexpn\n"

(* Test: opaque lines are never written as options *)
test lns put "Op\nDZ8\n" after
  set "@line[2]" "DZ9"
  = "Op\nDZ9\n"

(* Test: removing a line takes its newline with it *)
test lns put "DZ8\nO PrivacyOptions=goaway\nCwx\n" after
  rm "PrivacyOptions"
  = "DZ8\nCwx\n"
