// Placeholder while this file is being written.
