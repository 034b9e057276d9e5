//! The Kryoptic soft token as a PKCS#11 shared library
//! (`libairlock_kryoptic.so`), built from crates.io with the feature set
//! that works on Debian 12's OpenSSL 3.0. Tests and the demo load it like
//! any vendor HSM module; Airlock's own code never links to it.
//!
//! This mirrors the `kryoptic` crate's own cdylib, which cannot be built
//! with a narrower `kryoptic-lib` feature set from outside.

// The C entry points a PKCS#11 module must export are `#[unsafe(no_mangle)]`
// by nature; the workspace denies `unsafe` everywhere else.
#![allow(unsafe_code)]

use kryoptic_lib::fns::general::{fn_get_function_list, fn_get_interface, fn_get_interface_list};
use kryoptic_lib::pkcs11::{
    CK_FLAGS, CK_FUNCTION_LIST_PTR_PTR, CK_INTERFACE_PTR, CK_INTERFACE_PTR_PTR, CK_RV,
    CK_ULONG_PTR, CK_UTF8CHAR_PTR, CK_VERSION_PTR,
};

/// PKCS#11 entry point: the function list.
#[unsafe(no_mangle)]
pub extern "C" fn C_GetFunctionList(fnlist: CK_FUNCTION_LIST_PTR_PTR) -> CK_RV {
    fn_get_function_list(fnlist)
}

/// PKCS#11 3.0 entry point: one named interface.
#[unsafe(no_mangle)]
pub extern "C" fn C_GetInterface(
    interface_name: CK_UTF8CHAR_PTR,
    version: CK_VERSION_PTR,
    interface: CK_INTERFACE_PTR_PTR,
    flags: CK_FLAGS,
) -> CK_RV {
    fn_get_interface(interface_name, version, interface, flags)
}

/// PKCS#11 3.0 entry point: all interfaces.
#[unsafe(no_mangle)]
pub extern "C" fn C_GetInterfaceList(
    interfaces_list: CK_INTERFACE_PTR,
    count: CK_ULONG_PTR,
) -> CK_RV {
    fn_get_interface_list(interfaces_list, count)
}
