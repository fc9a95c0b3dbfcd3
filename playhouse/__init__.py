"""Extensions built on tinyorm's public API: pooling presets, signals, shortcuts, a
key/value store, a read-through cache and test helpers. The core never imports these."""
