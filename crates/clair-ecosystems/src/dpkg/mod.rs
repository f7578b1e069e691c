//! dpkg (in progress)
