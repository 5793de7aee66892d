//! Unit tests of the memory (filled below).
