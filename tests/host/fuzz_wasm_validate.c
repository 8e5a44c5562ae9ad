/* libFuzzer: the load validator reads untrusted .wasm bytes; it must never
 * read past them, whatever they hold. */
#include "host.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct pw_wasm_report report;
    if (pw_validate(data, size, &report) && !(report.bound_exports & PW_EXPORT_MEMORY))
        __builtin_trap(); /* accepted modules export their memory */
    return 0;
}
