(*
Module: Test_Postfix_Main
  augparse tests for mtaguard's Postfix_Main.lns (it shadows the stock lens
  of the same name). Run:
    augparse -I Sources/MTAGuard/Resources/lenses Tests/lenses/test_postfix_main.aug
  Several tests below parse text the stock lens rejects, so they also show
  that -I picked mtaguard's lens and not /usr/share/augeas/lenses/dist's.
*)
module Test_Postfix_Main =

let lns = Postfix_Main.lns

(************************************************************************
 * Group: get -- what the stock lens reads, read the same
 ************************************************************************)

(* Test: settings, comments, blank lines, spacing around "=" *)
test lns get "# Global Postfix configuration file.\n#\n\nmyhostname = mail.example.com\nrelayhost =\nmydestination=$myhostname, localhost\ndisable_vrfy_command  =\tyes   \n  # indented comment\n \t\n" =
  { "#comment" = "Global Postfix configuration file." }
  { }
  { }
  { "myhostname" = "mail.example.com" }
  { "relayhost" }
  { "mydestination" = "$myhostname, localhost" }
  { "disable_vrfy_command" = "yes" }
  { "#comment" = "indented comment" }
  { }

(* Test: continuation lines (spaces, a tab), and a value on the line after "=" *)
test lns get "mynetworks = 127.0.0.0/8\n    [::ffff:127.0.0.0]/104\n\t[::1]/128\ndisable_vrfy_command =\n    yes\n" =
  { "mynetworks" = "127.0.0.0/8\n    [::ffff:127.0.0.0]/104\n\t[::1]/128" }
  { "disable_vrfy_command" = "yes" }

(* Test: "#" inside a value is text *)
test lns get "smtpd_banner = $myhostname ESMTP # not a comment\n" =
  { "smtpd_banner" = "$myhostname ESMTP # not a comment" }

(************************************************************************
 * Group: get -- what postfix reads and the stock lens rejects
 ************************************************************************)

(* Test: the example from the defect: a comment between value lines *)
test lns get "smtpd_recipient_restrictions =\n    permit_mynetworks\n# local exceptions\n    check_client_access hash:/etc/postfix/rbl_whitelist\n    reject_unauth_destination\n" =
  { "smtpd_recipient_restrictions" = "permit_mynetworks\n# local exceptions\n    check_client_access hash:/etc/postfix/rbl_whitelist\n    reject_unauth_destination" }

(* Test: blank, whitespace-only and indented comment lines inside a value,
   trailing blanks on an inner line *)
test lns get "a = x, \n\n \t\n  # note\n#\n\ty\nb = z\n" =
  { "a" = "x, \n\n \t\n  # note\n#\n\ty" }
  { "b" = "z" }

(* Test: skipped lines between "name =" and the first value line are not in
   the value *)
test lns get "disable_vrfy_command =\n# why\n\n   \n\tyes\n" =
  { "disable_vrfy_command" = "yes" }

(* Test: a comment after a value that nothing continues is a comment *)
test lns get "a = x\n  # after\nb = y\n" =
  { "a" = "x" }
  { "#comment" = "after" }
  { "b" = "y" }

(* Test: a value line of its own that starts with "#" is a comment: no value *)
test lns get "a =\n  #x\n" =
  { "a" }
  { "#comment" = "x" }

(* Test: a value that starts with "#" on the "=" line is a value, and so is
   a "#" at the end of a value *)
test lns get "disable_vrfy_command = #yes\nb =#\nalias_maps = hash:/etc/aliases#\n" =
  { "disable_vrfy_command" = "#yes" }
  { "b" = "#" }
  { "alias_maps" = "hash:/etc/aliases#" }

(* Test: "{ ... }" groups and an inline: table spanning lines *)
test lns get "smtpd_client_restrictions = check_client_access inline:{\n    { 192.0.2.1 = OK },\n  # keep this one\n    { 192.0.2.2 = REJECT go away } }\n  permit\nsmtpd_milters = { inet:localhost:8891,\n\tdefault_action = accept }\n" =
  { "smtpd_client_restrictions" = "check_client_access inline:{\n    { 192.0.2.1 = OK },\n  # keep this one\n    { 192.0.2.2 = REJECT go away } }\n  permit" }
  { "smtpd_milters" = "{ inet:localhost:8891,\n\tdefault_action = accept }" }

(* Test: the name alone on a line, "=" on a continuation line *)
test lns get "disable_vrfy_command\n# c\n  = yes\n" =
  { "disable_vrfy_command" = "yes" }

(* Test: names with characters other than [A-Za-z0-9_.-] *)
test lns get "foo#bar = 1\nsmtp-amavis_destination_concurrency_limit = 2\n" =
  { "foo#bar" = "1" }
  { "smtp-amavis_destination_concurrency_limit" = "2" }

(* Test: whitespace-led text before the first setting: postfix ignores it
   (with a warning), continuation and all *)
test lns get "# header\n\n  disable_vrfy_command = yes\n# c\n    more\nmyhostname = a\n" =
  { "#comment" = "header" }
  { }
  { "#ignored" = "disable_vrfy_command = yes\n# c\n    more" }
  { "myhostname" = "a" }

(* Test: ignored text alone, with comments after it *)
test lns get "  x = 1\n# c\n\n" =
  { "#ignored" = "x = 1" }
  { "#comment" = "c" }
  { }

(* Test: the empty file *)
test lns put "" after rm "/nothing" = ""

(************************************************************************
 * Group: get -- what postfix refuses is refused
 ************************************************************************)

(* Test: a name with no "=" (postfix: missing '=' after attribute name) *)
test lns get "a = 1\nthis line is broken\n" = *

(* Test: "}" at column 0 starts a new logical line (postfix: missing '=') *)
test lns get "a = inline:{ x=y,\n}\n" = *

(* Test: whitespace-led text after a setting would continue it, so it can
   not also be ignored text; after a setting it is part of the value *)
test lns get "a = 1\n  b = 2\n" = { "a" = "1\n  b = 2" }

(************************************************************************
 * Group: put
 ************************************************************************)

(* Test: an edit of one value changes only that value's text *)
test lns put "a =\tx, \n  # note\n\ty\ndisable_vrfy_command  =  no  \n# after\nb = z\n" after
  set "disable_vrfy_command" "yes" =
  "a =\tx, \n  # note\n\ty\ndisable_vrfy_command  =  yes  \n# after\nb = z\n"

(* Test: a value on its own line after "name =" (and skipped lines) stays there *)
test lns put "disable_vrfy_command =\n# why\n\n\tno\nb = z\n" after
  set "disable_vrfy_command" "yes" =
  "disable_vrfy_command =\n# why\n\n\tyes\nb = z\n"

(* Test: a continued value set to one word: its continuation lines (and
   the skipped lines between them) go, nothing else changes *)
test lns put "# c\ndisable_vrfy_command = no\n# inside\n\tyes\n\n# after\n" after
  set "disable_vrfy_command" "yes" =
  "# c\ndisable_vrfy_command = yes\n\n# after\n"

(* Test: a new setting is written like the stock lens writes it *)
test lns put "myhostname = a\n" after
  set "disable_vrfy_command" "yes" =
  "myhostname = a\ndisable_vrfy_command = yes\n"

(* Test: a setting without value gets one on its own line *)
test lns put "relayhost =\nb = c\n" after
  set "relayhost" "[smtp.example.net]:587" =
  "relayhost = [smtp.example.net]:587\nb = c\n"

(* Test: a value that starts with "#" and back: another branch of the lens,
   so the blanks after "=" are the default ones *)
test lns put "a =  #x\nb =\n\ty\n" after
  set "a" "z";
  set "b" "#q" =
  "a = z\nb = #q\n"

(* Test: an edit next to ignored text leaves it alone *)
test lns put "  ignored = 1\na = 1\n" after
  set "a" "2" =
  "  ignored = 1\na = 2\n"

(* Test: a new setting after ignored text and a comment *)
test lns put "  x = 1\n# c\n" after
  set "disable_vrfy_command" "yes" =
  "  x = 1\n# c\ndisable_vrfy_command = yes\n"

(* Test: a dirty but unchanged tree is written back byte for byte *)
test lns put "# c\n  x = ignored\nsmtpd_recipient_restrictions =\n    permit_mynetworks\n# local exceptions\n    check_client_access hash:/etc/postfix/rbl_whitelist\n\n  \t\n\treject_unauth_destination \t\nname\n  =  #v\n" after
  insa "zz" "smtpd_recipient_restrictions";
  rm "zz" =
  "# c\n  x = ignored\nsmtpd_recipient_restrictions =\n    permit_mynetworks\n# local exceptions\n    check_client_access hash:/etc/postfix/rbl_whitelist\n\n  \t\n\treject_unauth_destination \t\nname\n  =  #v\n"
