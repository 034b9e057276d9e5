//! PKCS#11 engine (see issue 3).
