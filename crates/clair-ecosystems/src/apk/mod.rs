//! apk (in progress)
