//! The macOS files (`scripts/build-static.sh macos`), checked as far as a
//! Linux machine can check them: read as Mach-O by this file's own reader
//! (not by the script that wrote the universal file and the x86_64
//! signature), each slice must be for its CPU, ask for macOS 11.0, load
//! only the system's libraries, carry a valid ad-hoc signature over every
//! page, hold no debug information, and fit its budget. Running them needs
//! a Mac. `#[ignore]`d in a plain `cargo test`; `scripts/test-macos.sh`
//! builds the files and runs these.

use crate::support::static_dir;
use std::fs;

const CPU_TYPE_X86_64: u32 = 0x0100_0007;
const CPU_TYPE_ARM64: u32 = 0x0100_000c;
const MH_MAGIC_64: u32 = 0xfeed_facf;
const FAT_MAGIC: u32 = 0xcafe_babe;
const MH_EXECUTE: u32 = 2;
const MH_PIE: u32 = 0x0020_0000;
const LC_SEGMENT_64: u32 = 0x19;
const LC_SYMTAB: u32 = 0x2;
const LC_LOAD_DYLIB: u32 = 0xc;
const LC_LOAD_WEAK_DYLIB: u32 = 0x8000_0018;
const LC_REEXPORT_DYLIB: u32 = 0x8000_001f;
const LC_LAZY_LOAD_DYLIB: u32 = 0x20;
const LC_LOAD_UPWARD_DYLIB: u32 = 0x8000_0023;
const LC_BUILD_VERSION: u32 = 0x32;
const LC_VERSION_MIN_MACOSX: u32 = 0x24;
const LC_CODE_SIGNATURE: u32 = 0x1d;
const PLATFORM_MACOS: u32 = 1;
const CSMAGIC_EMBEDDED_SIGNATURE: u32 = 0xfade_0cc0;
const CSMAGIC_CODEDIRECTORY: u32 = 0xfade_0c02;
const CSSLOT_CODEDIRECTORY: u32 = 0;
const CS_ADHOC: u32 = 0x2;
const CS_HASHTYPE_SHA256: u8 = 2;
/// `n_type` bits of a debugger (stab) symbol.
const N_STAB: u8 = 0xe0;
/// macOS 11.0 as Mach-O writes versions (xxxx.yy.zz in nibbles).
const MACOS_11_0: u32 = 11 << 16;
/// Per slice (issue 18): a Mac's disk is not a Pi's SD card, but a file
/// that grows unnoticed is a bug.
const BUDGET: usize = 3_500_000;

fn read(triple: &str) -> Vec<u8> {
    let path = static_dir().join(format!("m2m-mcp-server-ssh-client-{triple}"));
    fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; build it with `bash scripts/build-static.sh macos`",
            path.display()
        )
    })
}

fn u32_le(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
}

fn u32_be(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap())
}

/// What a thin Mach-O file says of itself.
#[derive(Debug, Default)]
struct Slice {
    cpu: u32,
    filetype: u32,
    flags: u32,
    /// `LC_BUILD_VERSION`: platform and minimum OS.
    build_version: Option<(u32, u32)>,
    version_min: Option<u32>,
    dylibs: Vec<String>,
    segments: Vec<String>,
    /// `LC_CODE_SIGNATURE`: offset and size of the signature.
    signature: Option<(usize, usize)>,
    stab_symbols: usize,
}

fn parse(bytes: &[u8]) -> Slice {
    assert_eq!(u32_le(bytes, 0), MH_MAGIC_64, "not a 64-bit Mach-O file");
    let mut slice = Slice {
        cpu: u32_le(bytes, 4),
        filetype: u32_le(bytes, 12),
        flags: u32_le(bytes, 24),
        ..Slice::default()
    };
    let ncmds = u32_le(bytes, 16) as usize;
    let mut at = 32;
    for _ in 0..ncmds {
        let cmd = u32_le(bytes, at);
        let size = u32_le(bytes, at + 4) as usize;
        let name = |offset: usize| {
            let start = at + offset;
            let end = bytes[start..at + size]
                .iter()
                .position(|&b| b == 0)
                .map_or(at + size, |n| start + n);
            String::from_utf8_lossy(&bytes[start..end]).into_owned()
        };
        match cmd {
            LC_LOAD_DYLIB | LC_LOAD_WEAK_DYLIB | LC_REEXPORT_DYLIB | LC_LAZY_LOAD_DYLIB
            | LC_LOAD_UPWARD_DYLIB => {
                slice.dylibs.push(name(u32_le(bytes, at + 8) as usize));
            }
            LC_SEGMENT_64 => slice.segments.push(name(8)),
            LC_BUILD_VERSION => {
                slice.build_version = Some((u32_le(bytes, at + 8), u32_le(bytes, at + 12)));
            }
            LC_VERSION_MIN_MACOSX => slice.version_min = Some(u32_le(bytes, at + 8)),
            LC_CODE_SIGNATURE => {
                slice.signature = Some((
                    u32_le(bytes, at + 8) as usize,
                    u32_le(bytes, at + 12) as usize,
                ));
            }
            LC_SYMTAB => {
                let symoff = u32_le(bytes, at + 8) as usize;
                let nsyms = u32_le(bytes, at + 12) as usize;
                slice.stab_symbols = (0..nsyms)
                    .filter(|i| bytes[symoff + 16 * i + 4] & N_STAB != 0)
                    .count();
            }
            _ => {}
        }
        at += size;
    }
    slice
}

/// The ad-hoc signature's code directory: SHA-256, ad-hoc, and a hash for
/// every page of the file up to the signature that matches that page.
fn assert_signature_valid(bytes: &[u8], slice: &Slice) {
    let (offset, size) = slice.signature.expect("no LC_CODE_SIGNATURE: unsigned");
    assert!(
        offset + size <= bytes.len(),
        "signature past the file's end"
    );
    let blob = &bytes[offset..offset + size];
    assert_eq!(u32_be(blob, 0), CSMAGIC_EMBEDDED_SIGNATURE);
    let count = u32_be(blob, 8) as usize;
    let directory = (0..count)
        .map(|i| (u32_be(blob, 12 + 8 * i), u32_be(blob, 16 + 8 * i) as usize))
        .find(|&(slot, _)| slot == CSSLOT_CODEDIRECTORY)
        .map(|(_, at)| &blob[at..])
        .expect("no code directory");
    assert_eq!(u32_be(directory, 0), CSMAGIC_CODEDIRECTORY);
    let flags = u32_be(directory, 12);
    assert_ne!(flags & CS_ADHOC, 0, "not ad-hoc (flags {flags:#x})");
    let hash_offset = u32_be(directory, 16) as usize;
    let code_slots = u32_be(directory, 28) as usize;
    let code_limit = u32_be(directory, 32) as usize;
    let hash_size = directory[36] as usize;
    assert_eq!(directory[37], CS_HASHTYPE_SHA256);
    assert_eq!(hash_size, 32);
    let page = 1usize << directory[39];
    assert_eq!(
        code_limit, offset,
        "the signature must cover the whole file before it"
    );
    assert_eq!(code_slots, code_limit.div_ceil(page));
    for slot in 0..code_slots {
        let start = slot * page;
        let end = (start + page).min(code_limit);
        let want = &directory[hash_offset + slot * hash_size..][..hash_size];
        assert_eq!(
            openssl::sha::sha256(&bytes[start..end]),
            want,
            "page {slot} does not match its hash: the file changed after signing"
        );
    }
}

/// Every check on one slice; `cpu` is the CPU it must be for.
fn check_slice(bytes: &[u8], cpu: u32) {
    assert!(
        bytes.len() <= BUDGET,
        "{} bytes, over {BUDGET}",
        bytes.len()
    );
    let slice = parse(bytes);
    assert_eq!(slice.cpu, cpu, "built for another CPU");
    assert_eq!(slice.filetype, MH_EXECUTE);
    assert_ne!(slice.flags & MH_PIE, 0, "not position-independent");
    assert_eq!(
        slice.build_version,
        Some((PLATFORM_MACOS, MACOS_11_0)),
        "must be for macOS with macOS 11.0 as its minimum"
    );
    assert_eq!(slice.version_min, None);
    assert!(
        slice
            .dylibs
            .iter()
            .any(|d| d == "/usr/lib/libSystem.B.dylib"),
        "{:?}",
        slice.dylibs
    );
    for dylib in &slice.dylibs {
        assert!(
            dylib.starts_with("/usr/lib/") && !dylib.contains(".."),
            "loads {dylib}, which is not a system library"
        );
    }
    assert!(
        !slice.segments.iter().any(|s| s == "__DWARF"),
        "{:?}",
        slice.segments
    );
    assert_eq!(slice.stab_symbols, 0, "debug symbols left in");
    assert_signature_valid(bytes, &slice);
}

#[test]
#[ignore = "needs the macOS files; run by scripts/test-macos.sh"]
fn the_arm64_file_is_a_signed_macos_11_executable_loading_only_system_libraries() {
    check_slice(&read("aarch64-apple-darwin"), CPU_TYPE_ARM64);
}

#[test]
#[ignore = "needs the macOS files; run by scripts/test-macos.sh"]
fn the_x86_64_file_is_a_signed_macos_11_executable_loading_only_system_libraries() {
    check_slice(&read("x86_64-apple-darwin"), CPU_TYPE_X86_64);
}

#[test]
#[ignore = "needs the macOS files; run by scripts/test-macos.sh"]
fn the_universal_file_holds_both_slices_unchanged_at_page_boundaries() {
    let fat = read("universal-apple-darwin");
    assert_eq!(u32_be(&fat, 0), FAT_MAGIC, "not a universal file");
    let count = u32_be(&fat, 4) as usize;
    let mut cpus = Vec::new();
    for i in 0..count {
        let entry = 8 + 20 * i;
        let cpu = u32_be(&fat, entry);
        let offset = u32_be(&fat, entry + 8) as usize;
        let size = u32_be(&fat, entry + 12) as usize;
        let align = u32_be(&fat, entry + 16);
        assert!(align >= 12, "slice {i} aligned to 2^{align}");
        assert_eq!(offset % (1 << align), 0, "slice {i} off its alignment");
        let slice = &fat[offset..offset + size];
        assert_eq!(parse(slice).cpu, cpu, "slice {i}'s header disagrees");
        let thin = match cpu {
            CPU_TYPE_ARM64 => read("aarch64-apple-darwin"),
            CPU_TYPE_X86_64 => read("x86_64-apple-darwin"),
            other => panic!("unexpected CPU type {other:#x}"),
        };
        assert!(
            slice == thin.as_slice(),
            "slice {i} differs from its thin file"
        );
        cpus.push(cpu);
    }
    cpus.sort();
    assert_eq!(cpus, [CPU_TYPE_X86_64, CPU_TYPE_ARM64]);
}
