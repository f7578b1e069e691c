//! osrelease (in progress)
