//! The pickle opcodes of protocols 0–5: one named constant each, and the one table of their
//! names (for messages). The decoders ([`super::decode`]) and the encoder use these names.

#![allow(dead_code)] // the table names every opcode; not each is emitted or accepted

/// `MARK`.
pub(crate) const MARK: u8 = b'(';
/// `EMPTY_TUPLE`.
pub(crate) const EMPTY_TUPLE: u8 = b')';
/// `STOP`.
pub(crate) const STOP: u8 = b'.';
/// `POP`.
pub(crate) const POP: u8 = b'0';
/// `POP_MARK`.
pub(crate) const POP_MARK: u8 = b'1';
/// `DUP`.
pub(crate) const DUP: u8 = b'2';
/// `BINBYTES`.
pub(crate) const BINBYTES: u8 = b'B';
/// `SHORT_BINBYTES`.
pub(crate) const SHORT_BINBYTES: u8 = b'C';
/// `FLOAT`.
pub(crate) const FLOAT: u8 = b'F';
/// `BINFLOAT`.
pub(crate) const BINFLOAT: u8 = b'G';
/// `INT`.
pub(crate) const INT: u8 = b'I';
/// `BININT`.
pub(crate) const BININT: u8 = b'J';
/// `BININT1`.
pub(crate) const BININT1: u8 = b'K';
/// `LONG`.
pub(crate) const LONG: u8 = b'L';
/// `BININT2`.
pub(crate) const BININT2: u8 = b'M';
/// `NONE`.
pub(crate) const NONE: u8 = b'N';
/// `PERSID`.
pub(crate) const PERSID: u8 = b'P';
/// `BINPERSID`.
pub(crate) const BINPERSID: u8 = b'Q';
/// `REDUCE`.
pub(crate) const REDUCE: u8 = b'R';
/// `STRING`.
pub(crate) const STRING: u8 = b'S';
/// `BINSTRING`.
pub(crate) const BINSTRING: u8 = b'T';
/// `SHORT_BINSTRING`.
pub(crate) const SHORT_BINSTRING: u8 = b'U';
/// `UNICODE`.
pub(crate) const UNICODE: u8 = b'V';
/// `BINUNICODE`.
pub(crate) const BINUNICODE: u8 = b'X';
/// `EMPTY_LIST`.
pub(crate) const EMPTY_LIST: u8 = b']';
/// `APPEND`.
pub(crate) const APPEND: u8 = b'a';
/// `BUILD`.
pub(crate) const BUILD: u8 = b'b';
/// `GLOBAL`.
pub(crate) const GLOBAL: u8 = b'c';
/// `DICT`.
pub(crate) const DICT: u8 = b'd';
/// `APPENDS`.
pub(crate) const APPENDS: u8 = b'e';
/// `GET`.
pub(crate) const GET: u8 = b'g';
/// `BINGET`.
pub(crate) const BINGET: u8 = b'h';
/// `INST`.
pub(crate) const INST: u8 = b'i';
/// `LONG_BINGET`.
pub(crate) const LONG_BINGET: u8 = b'j';
/// `LIST`.
pub(crate) const LIST: u8 = b'l';
/// `OBJ`.
pub(crate) const OBJ: u8 = b'o';
/// `PUT`.
pub(crate) const PUT: u8 = b'p';
/// `BINPUT`.
pub(crate) const BINPUT: u8 = b'q';
/// `LONG_BINPUT`.
pub(crate) const LONG_BINPUT: u8 = b'r';
/// `SETITEM`.
pub(crate) const SETITEM: u8 = b's';
/// `TUPLE`.
pub(crate) const TUPLE: u8 = b't';
/// `SETITEMS`.
pub(crate) const SETITEMS: u8 = b'u';
/// `EMPTY_DICT`.
pub(crate) const EMPTY_DICT: u8 = b'}';
/// `PROTO`.
pub(crate) const PROTO: u8 = 0x80;
/// `NEWOBJ`.
pub(crate) const NEWOBJ: u8 = 0x81;
/// `EXT1`.
pub(crate) const EXT1: u8 = 0x82;
/// `EXT2`.
pub(crate) const EXT2: u8 = 0x83;
/// `EXT4`.
pub(crate) const EXT4: u8 = 0x84;
/// `TUPLE1`.
pub(crate) const TUPLE1: u8 = 0x85;
/// `TUPLE2`.
pub(crate) const TUPLE2: u8 = 0x86;
/// `TUPLE3`.
pub(crate) const TUPLE3: u8 = 0x87;
/// `NEWTRUE`.
pub(crate) const NEWTRUE: u8 = 0x88;
/// `NEWFALSE`.
pub(crate) const NEWFALSE: u8 = 0x89;
/// `LONG1`.
pub(crate) const LONG1: u8 = 0x8a;
/// `LONG4`.
pub(crate) const LONG4: u8 = 0x8b;
/// `SHORT_BINUNICODE`.
pub(crate) const SHORT_BINUNICODE: u8 = 0x8c;
/// `BINUNICODE8`.
pub(crate) const BINUNICODE8: u8 = 0x8d;
/// `BINBYTES8`.
pub(crate) const BINBYTES8: u8 = 0x8e;
/// `EMPTY_SET`.
pub(crate) const EMPTY_SET: u8 = 0x8f;
/// `ADDITEMS`.
pub(crate) const ADDITEMS: u8 = 0x90;
/// `FROZENSET`.
pub(crate) const FROZENSET: u8 = 0x91;
/// `NEWOBJ_EX`.
pub(crate) const NEWOBJ_EX: u8 = 0x92;
/// `STACK_GLOBAL`.
pub(crate) const STACK_GLOBAL: u8 = 0x93;
/// `MEMOIZE`.
pub(crate) const MEMOIZE: u8 = 0x94;
/// `FRAME`.
pub(crate) const FRAME: u8 = 0x95;
/// `BYTEARRAY8`.
pub(crate) const BYTEARRAY8: u8 = 0x96;
/// `NEXT_BUFFER`.
pub(crate) const NEXT_BUFFER: u8 = 0x97;
/// `READONLY_BUFFER`.
pub(crate) const READONLY_BUFFER: u8 = 0x98;

/// Every opcode with its name, in byte order.
pub(crate) const TABLE: [(u8, &str); 68] = [
    (MARK, "MARK"),
    (EMPTY_TUPLE, "EMPTY_TUPLE"),
    (STOP, "STOP"),
    (POP, "POP"),
    (POP_MARK, "POP_MARK"),
    (DUP, "DUP"),
    (BINBYTES, "BINBYTES"),
    (SHORT_BINBYTES, "SHORT_BINBYTES"),
    (FLOAT, "FLOAT"),
    (BINFLOAT, "BINFLOAT"),
    (INT, "INT"),
    (BININT, "BININT"),
    (BININT1, "BININT1"),
    (LONG, "LONG"),
    (BININT2, "BININT2"),
    (NONE, "NONE"),
    (PERSID, "PERSID"),
    (BINPERSID, "BINPERSID"),
    (REDUCE, "REDUCE"),
    (STRING, "STRING"),
    (BINSTRING, "BINSTRING"),
    (SHORT_BINSTRING, "SHORT_BINSTRING"),
    (UNICODE, "UNICODE"),
    (BINUNICODE, "BINUNICODE"),
    (EMPTY_LIST, "EMPTY_LIST"),
    (APPEND, "APPEND"),
    (BUILD, "BUILD"),
    (GLOBAL, "GLOBAL"),
    (DICT, "DICT"),
    (APPENDS, "APPENDS"),
    (GET, "GET"),
    (BINGET, "BINGET"),
    (INST, "INST"),
    (LONG_BINGET, "LONG_BINGET"),
    (LIST, "LIST"),
    (OBJ, "OBJ"),
    (PUT, "PUT"),
    (BINPUT, "BINPUT"),
    (LONG_BINPUT, "LONG_BINPUT"),
    (SETITEM, "SETITEM"),
    (TUPLE, "TUPLE"),
    (SETITEMS, "SETITEMS"),
    (EMPTY_DICT, "EMPTY_DICT"),
    (PROTO, "PROTO"),
    (NEWOBJ, "NEWOBJ"),
    (EXT1, "EXT1"),
    (EXT2, "EXT2"),
    (EXT4, "EXT4"),
    (TUPLE1, "TUPLE1"),
    (TUPLE2, "TUPLE2"),
    (TUPLE3, "TUPLE3"),
    (NEWTRUE, "NEWTRUE"),
    (NEWFALSE, "NEWFALSE"),
    (LONG1, "LONG1"),
    (LONG4, "LONG4"),
    (SHORT_BINUNICODE, "SHORT_BINUNICODE"),
    (BINUNICODE8, "BINUNICODE8"),
    (BINBYTES8, "BINBYTES8"),
    (EMPTY_SET, "EMPTY_SET"),
    (ADDITEMS, "ADDITEMS"),
    (FROZENSET, "FROZENSET"),
    (NEWOBJ_EX, "NEWOBJ_EX"),
    (STACK_GLOBAL, "STACK_GLOBAL"),
    (MEMOIZE, "MEMOIZE"),
    (FRAME, "FRAME"),
    (BYTEARRAY8, "BYTEARRAY8"),
    (NEXT_BUFFER, "NEXT_BUFFER"),
    (READONLY_BUFFER, "READONLY_BUFFER"),
];

/// The name of opcode `op` (`"unknown"` for a byte that is no opcode).
pub(crate) fn name(op: u8) -> &'static str {
    TABLE
        .iter()
        .find(|(b, _)| *b == op)
        .map_or("unknown", |(_, n)| n)
}

#[cfg(test)]
mod tests {
    #[test]
    fn table_is_sorted_unique_and_named() {
        let t = super::TABLE;
        assert!(t.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(super::name(b'('), "MARK");
        assert_eq!(super::name(0x95), "FRAME");
        assert_eq!(super::name(0xff), "unknown");
    }
}
