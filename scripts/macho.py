#!/usr/bin/env python3
"""Mach-O steps that zig's linker leaves to Apple's tools, done from Linux.

    python3 scripts/macho.py sign FILE IDENTIFIER   # ad-hoc sign a thin 64-bit file
    python3 scripts/macho.py lipo OUT THIN...        # a universal (fat) file

sign: zig signs arm64 files itself (the kernel runs no unsigned arm64 code)
but not x86_64 ones. This adds the same kind of signature ld64 makes (a
"linker-signed" ad-hoc code directory, SHA-256 per 4 KiB page, no
requirements or entitlements), so both slices carry one: Gatekeeper and
`codesign --verify` treat an ad-hoc signed file alike on both CPUs. A file
that is signed already is left as it is.

lipo: the fat header and each slice at a 16 KiB boundary, as Apple's lipo
lays them out.

The Mach-O checks that the release files pass (tests/integration/macos.rs)
read the files independently of this script.
"""

import hashlib
import os
import struct
import sys

MH_MAGIC_64 = 0xFEEDFACF
MH_EXECUTE = 0x2
LC_SEGMENT_64 = 0x19
LC_CODE_SIGNATURE = 0x1D
CSMAGIC_EMBEDDED_SIGNATURE = 0xFADE0CC0
CSMAGIC_CODEDIRECTORY = 0xFADE0C02
CS_ADHOC = 0x2
CS_LINKER_SIGNED = 0x20000
CS_HASHTYPE_SHA256 = 2
CS_EXECSEG_MAIN_BINARY = 0x1
CD_VERSION = 0x20400  # the first with the executable segment fields
PAGE_SHIFT = 12
FAT_MAGIC = 0xCAFEBABE
FAT_ALIGN = 14


def die(message):
    sys.stderr.write(f"macho.py: error: {message}\n")
    sys.exit(1)


def align(n, to):
    return (n + to - 1) // to * to


def load_commands(data):
    magic, _cpu, _sub, filetype, ncmds, sizeofcmds, _flags, _res = struct.unpack_from("<IiiIIIII", data)
    if magic != MH_MAGIC_64:
        die("not a thin 64-bit little-endian Mach-O file")
    commands = []
    offset = 32
    for _ in range(ncmds):
        cmd, size = struct.unpack_from("<II", data, offset)
        commands.append((cmd, offset, size))
        offset += size
    return filetype, ncmds, sizeofcmds, commands


def segment(data, commands, name):
    for cmd, offset, _size in commands:
        if cmd == LC_SEGMENT_64 and data[offset + 8:offset + 24].rstrip(b"\0") == name:
            return offset
    die(f"no {name.decode()} segment")


def sign(path, identifier):
    data = bytearray(open(path, "rb").read())
    filetype, ncmds, sizeofcmds, commands = load_commands(data)
    if any(cmd == LC_CODE_SIGNATURE for cmd, _o, _s in commands):
        return
    text = segment(data, commands, b"__TEXT")
    linkedit = segment(data, commands, b"__LINKEDIT")
    # Room for one more load command before the first section's bytes.
    nsects = struct.unpack_from("<I", data, text + 64)[0]
    offsets = (struct.unpack_from("<I", data, text + 72 + 80 * i + 48)[0] for i in range(nsects))
    first = min((o for o in offsets if o), default=0)
    end = 32 + sizeofcmds
    if first and first < end + 16:
        die("no room for the signature's load command (link with -headerpad)")
    le_fileoff, le_filesize = struct.unpack_from("<QQ", data, linkedit + 40)
    if le_fileoff + le_filesize != len(data):
        die("__LINKEDIT is not at the end of the file")

    dataoff = align(len(data), 16)
    ident = identifier.encode() + b"\0"
    npages = (dataoff + (1 << PAGE_SHIFT) - 1) >> PAGE_SHIFT
    header_size = 88
    ident_offset = header_size
    hash_offset = ident_offset + len(ident)
    cd_length = hash_offset + 32 * npages
    superblob_length = 20 + cd_length
    datasize = superblob_length

    # The new load command, the header's counts, __LINKEDIT grown over the
    # signature: all before hashing, since the header is in the first page.
    struct.pack_into("<IIII", data, end, LC_CODE_SIGNATURE, 16, dataoff, datasize)
    struct.pack_into("<II", data, 16, ncmds + 1, sizeofcmds + 16)
    new_filesize = dataoff + datasize - le_fileoff
    struct.pack_into("<Q", data, linkedit + 48, new_filesize)  # filesize
    vmsize = struct.unpack_from("<Q", data, linkedit + 32)[0]
    struct.pack_into("<Q", data, linkedit + 32, max(vmsize, align(new_filesize, 1 << PAGE_SHIFT)))
    data += b"\0" * (dataoff - len(data))

    text_fileoff, text_filesize = struct.unpack_from("<QQ", data, text + 40)
    exec_flags = CS_EXECSEG_MAIN_BINARY if filetype == MH_EXECUTE else 0
    cd = struct.pack(
        ">IIIIIIIIIBBBBIIIIQQQQ",
        CSMAGIC_CODEDIRECTORY, cd_length, CD_VERSION, CS_ADHOC | CS_LINKER_SIGNED,
        hash_offset, ident_offset, 0, npages, dataoff,
        32, CS_HASHTYPE_SHA256, 0, PAGE_SHIFT, 0,
        0, 0, 0, 0,
        text_fileoff, text_filesize, exec_flags,
    )
    assert len(cd) == header_size
    hashes = b"".join(
        hashlib.sha256(bytes(data[p << PAGE_SHIFT:min((p + 1) << PAGE_SHIFT, dataoff)])).digest()
        for p in range(npages)
    )
    blob = struct.pack(">IIIII", CSMAGIC_EMBEDDED_SIGNATURE, superblob_length, 1, 0, 20) + cd + ident + hashes
    data += blob + b"\0" * (datasize - len(blob))
    write(path, data)


def lipo(out, thin):
    slices = []
    for path in thin:
        data = open(path, "rb").read()
        load_commands(data)
        cputype, cpusubtype = struct.unpack_from("<ii", data, 4)
        slices.append((cputype, cpusubtype & 0x00FFFFFF, data))
    header = struct.pack(">II", FAT_MAGIC, len(slices))
    offsets = []
    end = 8 + 20 * len(slices)
    for cputype, cpusubtype, data in slices:
        offsets.append(align(end, 1 << FAT_ALIGN))
        header += struct.pack(">iiIII", cputype, cpusubtype, offsets[-1], len(data), FAT_ALIGN)
        end = offsets[-1] + len(data)
    body = bytearray(header)
    for (_cpu, _sub, data), offset in zip(slices, offsets):
        body += bytes(offset - len(body)) + data
    write(out, body)


def write(path, data):
    """Replaces PATH in one rename, executable."""
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
    os.chmod(tmp, 0o755)
    os.replace(tmp, path)


def main(argv):
    if len(argv) == 3 and argv[0] == "sign":
        sign(argv[1], argv[2])
    elif len(argv) >= 3 and argv[0] == "lipo":
        lipo(argv[1], argv[2:])
    else:
        die("usage: macho.py sign FILE IDENTIFIER | macho.py lipo OUT THIN...")


if __name__ == "__main__":
    main(sys.argv[1:])
