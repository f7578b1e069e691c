//! rpm (in progress)
