(*
Module: Test_Exim
  augparse tests for Exim.lns. Run: augparse -I Sources/MTAGuard/Resources/lenses Tests/lenses/test_exim.aug
  (Type-checking Exim takes a few minutes.)
*)
module Test_Exim =

let lns = Exim.lns

(* Test: main options, booleans, hide, empty value, macros, comments *)
test lns get "# c\nacl_smtp_vrfy = accept\nkeep_environment =\nno_x\nhide y = 1\nMAC = a \\\n  b\nM2 == v\n#acl_smtp_expn = accept\n# acl_smtp_etrn = accept\n" =
  { "#comment" = " c" }
  { "acl_smtp_vrfy" = "accept" }
  { "keep_environment" }
  { "no_x" }
  { "y" = "1" { "hide" } }
  { "MAC" = "a \\\n  b" }
  { "M2" = "v" { "redefine" } }
  { "#acl_smtp_expn" = "accept" }
  { "#comment" = " acl_smtp_etrn = accept" }

(* Test: named lists, directives, sections, opaque rules *)
test lns get "domainlist local_domains = @:localhost\n.ifdef X\n.include /etc/x\n.endif\nbegin retry\n*  *  F,2h,15m\n" =
  { "domainlist" = "local_domains" { "value" = "@:localhost" } }
  { "@ifdef" = "X" }
  { "@include" = "/etc/x" }
  { "@endif" }
  { "begin" = "retry" }
  { "@line" = "*  *  F,2h,15m" }

(* Test: an ACL: verbs, inline and own-line conditions, negation, set,
   endpass, comments between statements and inside one *)
test lns get "begin acl\nacl_check_vrfy:\n  accept hosts = :\n         message = m\n  # c\n  deny\n    # hidden\n    !authenticated = *\n    set acl_m_x = 1\n    endpass\n\nroute:\n  driver = smtp\nX = 1\n" =
  { "begin" = "acl" }
  { "acl" = "acl_check_vrfy"
    { "accept" { "hosts" = ":" } { "message" = "m" } }
    { "#comment" = " c" }
    { "deny"
      { "authenticated" = "*" { "not" } }
      { "set" { "acl_m_x" = "1" } }
      { "endpass" } }
    { } }
  { "instance" = "route" { "driver" = "smtp" } }
  { "X" = "1" }

(* Test: three statements in a row, a continued condition *)
test lns get "a:\n  accept\n    hosts = ${if a}\\\n            {b}\n  accept\n  deny\n" =
  { "acl" = "a"
    { "accept" { "hosts" = "${if a}\\\n            {b}" } }
    { "accept" }
    { "deny" } }

(* Test: a value may start with the backslash that continues it *)
test lns get "r:\n  t = \\\n    x\n" =
  { "instance" = "r" { "t" = "\\\n    x" } }

(* Test: commenting out an option by renaming it keeps the rest of the line *)
test lns put "a = 1\nacl_smtp_vrfy = accept\nb = 2\n" after
  insa "#acl_smtp_vrfy" "acl_smtp_vrfy";
  set "#acl_smtp_vrfy" "accept";
  rm "acl_smtp_vrfy"
  = "a = 1\n#acl_smtp_vrfy = accept\nb = 2\n"

(* Test: a new statement condition *)
test lns put "a:\n  accept\n" after
  set "acl/accept/hosts" ":"
  = "a:\n  accept hosts = :\n"
