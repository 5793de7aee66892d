pub fn text() {}
