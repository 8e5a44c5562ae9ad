;; Refused: an imported function re-exported as proxy_on_tick has the
;; import's signature, not the one proxy_on_tick needs.
(module
  (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "malloc") (param i32) (result i32) (i32.const 1024))
  (export "proxy_on_tick" (func $log)))
