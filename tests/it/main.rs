mod directory;
mod emulator;
