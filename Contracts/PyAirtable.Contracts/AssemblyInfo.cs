using ProtoBuf;

// The wire format of every contract: DateTime is google.protobuf.Timestamp, TimeSpan is
// google.protobuf.Duration, Guid and decimal are strings; no protobuf-net bcl.proto anywhere.
// This is decided once, before any data is stored: changing it changes the wire.
[module: CompatibilityLevel(CompatibilityLevel.Level300)]
