// Lists the entries of a ZIP file from its central directory (ZIP64 aware): enough to check
// the host's download without an unzip binary.
/** @param {Buffer} buf @returns {{name: string, size: number}[]} */
export function zipEntries(buf) {
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 65557); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) { eocd = i; break; }
  }
  if (eocd < 0) throw new Error('not a ZIP file (no end of central directory)');
  let count = buf.readUInt16LE(eocd + 10);
  let offset = buf.readUInt32LE(eocd + 16);
  if (offset === 0xffffffff || count === 0xffff) {
    const loc = eocd - 20;
    if (buf.readUInt32LE(loc) !== 0x07064b50) throw new Error('ZIP64 locator missing');
    const z64 = Number(buf.readBigUInt64LE(loc + 8));
    count = Number(buf.readBigUInt64LE(z64 + 32));
    offset = Number(buf.readBigUInt64LE(z64 + 48));
  }
  const entries = [];
  for (let i = 0, p = offset; i < count; i++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error(`bad central directory entry ${i}`);
    const nameLen = buf.readUInt16LE(p + 28), extraLen = buf.readUInt16LE(p + 30), commentLen = buf.readUInt16LE(p + 32);
    let size = buf.readUInt32LE(p + 24);
    const name = buf.subarray(p + 46, p + 46 + nameLen).toString('utf8');
    if (size === 0xffffffff) {
      // ZIP64 extra field: the uncompressed size comes first.
      for (let e = p + 46 + nameLen; e < p + 46 + nameLen + extraLen;) {
        const id = buf.readUInt16LE(e), len = buf.readUInt16LE(e + 2);
        if (id === 1) { size = Number(buf.readBigUInt64LE(e + 4)); break; }
        e += 4 + len;
      }
    }
    entries.push({ name, size });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}
