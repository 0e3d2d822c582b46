//! Windows: the file's DACL. A private file is created with a protected
//! DACL that grants the current user alone (nothing inherited), as
//! OpenSSH for Windows expects of a key; it is never readable by others,
//! not even for a moment. Modes are a Unix notion and are not kept.

#![allow(
    unsafe_code,
    reason = "the Win32 security API has no safe binding in our tree"
)]

use std::ffi::{OsStr, c_void};
use std::fs::{self, File};
use std::io;
use std::os::windows::ffi::OsStrExt;
use std::os::windows::io::FromRawHandle;
use std::path::Path;
use std::ptr;

use windows_sys::Win32::Foundation::{
    CloseHandle, GENERIC_ALL, GENERIC_READ, GENERIC_WRITE, HANDLE, HLOCAL, INVALID_HANDLE_VALUE,
    LocalFree,
};
use windows_sys::Win32::Security::Authorization::{
    ConvertSidToStringSidW, ConvertStringSecurityDescriptorToSecurityDescriptorW,
    GetNamedSecurityInfoW, SDDL_REVISION_1, SE_FILE_OBJECT,
};
use windows_sys::Win32::Security::{
    ACCESS_ALLOWED_ACE, ACL, DACL_SECURITY_INFORMATION, EqualSid, GetAce, GetTokenInformation,
    IsWellKnownSid, OWNER_SECURITY_INFORMATION, PSECURITY_DESCRIPTOR, PSID, SECURITY_ATTRIBUTES,
    TOKEN_QUERY, TOKEN_USER, TokenUser, WinBuiltinAdministratorsSid, WinLocalSystemSid,
};
use windows_sys::Win32::Storage::FileSystem::{
    CREATE_NEW, CreateFileW, FILE_ATTRIBUTE_NORMAL, FILE_GENERIC_READ, FILE_READ_DATA,
};
use windows_sys::Win32::System::SystemServices::ACCESS_ALLOWED_ACE_TYPE;
use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

/// Creates `path`, which must not exist. A `mode` that gives nothing to
/// group and others makes it the current user's alone; any other leaves
/// it the ACL its folder passes on (a public key).
pub fn open_new(path: &Path, mode: u32) -> io::Result<File> {
    if mode & 0o077 != 0 {
        return fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path);
    }
    let descriptor = OwnerOnly::new()?;
    let attributes = SECURITY_ATTRIBUTES {
        nLength: size_of::<SECURITY_ATTRIBUTES>() as u32,
        lpSecurityDescriptor: descriptor.0,
        bInheritHandle: 0,
    };
    let wide = wide(path.as_os_str());
    // SAFETY: `wide` is NUL-terminated and `attributes` points at a valid
    // descriptor; both outlive the call.
    let handle = unsafe {
        CreateFileW(
            wide.as_ptr(),
            GENERIC_READ | GENERIC_WRITE,
            0,
            &attributes,
            CREATE_NEW,
            FILE_ATTRIBUTE_NORMAL,
            ptr::null_mut(),
        )
    };
    if handle == INVALID_HANDLE_VALUE {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a handle CreateFileW just opened, owned by nobody else.
    Ok(unsafe { File::from_raw_handle(handle) })
}

/// Creates `dir` and its missing ancestors. A folder inherits its parent's
/// ACL, which under a user's profile is the user's own.
pub fn create_dir_all(dir: &Path, _mode: u32) -> io::Result<()> {
    fs::create_dir_all(dir)
}

/// Windows has no permission bits to keep.
pub fn mode_of(_path: &Path) -> Option<u32> {
    None
}

/// Who besides the owner, SYSTEM and Administrators may read the file at
/// `path` (the accounts OpenSSH for Windows accepts on a key), and the
/// `icacls` command that leaves it to its owner; `None` when nobody else
/// can, or when its ACL cannot be read.
pub fn exposure(path: &Path) -> Option<(String, String)> {
    let readers = other_readers(path)?;
    if readers.is_empty() {
        return None;
    }
    let user = std::env::var("USERNAME").unwrap_or_else(|_| "%USERNAME%".into());
    Some((
        format!("readable by {}", readers.join(", ")),
        format!(
            "icacls \"{}\" /inheritance:r /grant:r \"{user}:F\"",
            path.display()
        ),
    ))
}

/// Folders are not judged on Windows: a user's profile is private by default.
pub fn unsafe_dir(_dir: &Path) -> Option<String> {
    None
}

/// The SIDs (as `S-1-…` strings) that an allow entry of the file's DACL
/// lets read it, other than its owner, SYSTEM and Administrators.
fn other_readers(path: &Path) -> Option<Vec<String>> {
    let wide = wide(path.as_os_str());
    let mut owner: PSID = ptr::null_mut();
    let mut dacl: *mut ACL = ptr::null_mut();
    let mut descriptor: PSECURITY_DESCRIPTOR = ptr::null_mut();
    // SAFETY: out-pointers to locals; on success `descriptor` owns the
    // memory `owner` and `dacl` point into, freed below.
    let status = unsafe {
        GetNamedSecurityInfoW(
            wide.as_ptr(),
            SE_FILE_OBJECT,
            DACL_SECURITY_INFORMATION | OWNER_SECURITY_INFORMATION,
            &mut owner,
            ptr::null_mut(),
            &mut dacl,
            ptr::null_mut(),
            &mut descriptor,
        )
    };
    if status != 0 {
        return None;
    }
    let _free = Local(descriptor);
    if dacl.is_null() {
        // A NULL DACL grants everyone everything.
        return Some(vec!["everyone (the file has no DACL)".into()]);
    }
    let read = FILE_READ_DATA | FILE_GENERIC_READ | GENERIC_READ | GENERIC_ALL;
    let mut readers = Vec::new();
    // SAFETY: `dacl` is valid while `descriptor` lives.
    let count = unsafe { (*dacl).AceCount };
    for index in 0..u32::from(count) {
        let mut ace: *mut c_void = ptr::null_mut();
        // SAFETY: `index` is below the ACL's own count.
        if unsafe { GetAce(dacl, index, &mut ace) } == 0 || ace.is_null() {
            continue;
        }
        let ace = ace.cast::<ACCESS_ALLOWED_ACE>();
        // SAFETY: every ACE starts with its header; an allow ACE has the
        // mask and the SID right after it.
        let (kind, mask) = unsafe { ((*ace).Header.AceType, (*ace).Mask) };
        if u32::from(kind) != ACCESS_ALLOWED_ACE_TYPE || mask & read == 0 {
            continue;
        }
        // SAFETY: the SID starts at SidStart within the ACE.
        let sid: PSID = unsafe { ptr::addr_of_mut!((*ace).SidStart).cast() };
        // SAFETY: valid SIDs from the same descriptor.
        let trusted = unsafe {
            (!owner.is_null() && EqualSid(sid, owner) != 0)
                || IsWellKnownSid(sid, WinLocalSystemSid) != 0
                || IsWellKnownSid(sid, WinBuiltinAdministratorsSid) != 0
        };
        if !trusted {
            readers.push(account(sid_string(sid)));
        }
    }
    Some(readers)
}

/// A SID as people know it: the well-known groups a too-open file
/// usually names, by name and SID.
fn account(sid: Option<String>) -> String {
    let Some(sid) = sid else {
        return "an unknown account".into();
    };
    let name = match sid.as_str() {
        "S-1-1-0" => "Everyone",
        "S-1-5-11" => "Authenticated Users",
        "S-1-5-32-545" => "Users",
        "S-1-5-32-546" => "Guests",
        "S-1-5-7" => "Anonymous",
        _ => return sid,
    };
    format!("{name} ({sid})")
}

/// A security descriptor granting the current user full control and no
/// one else anything, not inheriting from the folder.
struct OwnerOnly(PSECURITY_DESCRIPTOR);

impl OwnerOnly {
    fn new() -> io::Result<OwnerOnly> {
        let user = current_user_sid()?;
        let sddl = wide(OsStr::new(&format!("D:P(A;;FA;;;{user})")));
        let mut descriptor: PSECURITY_DESCRIPTOR = ptr::null_mut();
        // SAFETY: `sddl` is NUL-terminated; on success the descriptor is
        // ours to LocalFree.
        let ok = unsafe {
            ConvertStringSecurityDescriptorToSecurityDescriptorW(
                sddl.as_ptr(),
                SDDL_REVISION_1,
                &mut descriptor,
                ptr::null_mut(),
            )
        };
        if ok == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(OwnerOnly(descriptor))
    }
}

impl Drop for OwnerOnly {
    fn drop(&mut self) {
        drop(Local(self.0));
    }
}

/// Memory the system allocated for us, freed with LocalFree.
struct Local(*mut c_void);

impl Drop for Local {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: allocated by the system call that handed it to us.
            unsafe { LocalFree(self.0 as HLOCAL) };
        }
    }
}

/// The current user's SID as `S-1-5-21-…`.
fn current_user_sid() -> io::Result<String> {
    let mut token: HANDLE = ptr::null_mut();
    // SAFETY: the pseudo-handle of our own process; `token` is closed below.
    if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) } == 0 {
        return Err(io::Error::last_os_error());
    }
    // Large enough for any TOKEN_USER (a SID is at most 68 bytes); u64s
    // for the structure's alignment.
    let mut buffer = [0u64; 64];
    let mut needed = 0u32;
    // SAFETY: `buffer` is writable for the size given.
    let ok = unsafe {
        GetTokenInformation(
            token,
            TokenUser,
            buffer.as_mut_ptr().cast(),
            size_of_val(&buffer) as u32,
            &mut needed,
        )
    };
    let error = io::Error::last_os_error();
    // SAFETY: opened above, closed once.
    unsafe { CloseHandle(token) };
    if ok == 0 {
        return Err(error);
    }
    // SAFETY: GetTokenInformation filled a TOKEN_USER at the start.
    let sid = unsafe { (*buffer.as_ptr().cast::<TOKEN_USER>()).User.Sid };
    sid_string(sid).ok_or_else(io::Error::last_os_error)
}

/// A SID as its `S-1-…` string.
fn sid_string(sid: PSID) -> Option<String> {
    let mut text: *mut u16 = ptr::null_mut();
    // SAFETY: `sid` is valid; on success `text` is ours to LocalFree.
    if unsafe { ConvertSidToStringSidW(sid, &mut text) } == 0 || text.is_null() {
        return None;
    }
    let _free = Local(text.cast());
    // SAFETY: a NUL-terminated string the call allocated.
    let len = (0..).take_while(|&i| unsafe { *text.add(i) } != 0).count();
    // SAFETY: `len` u16s are readable before the NUL.
    let units = unsafe { std::slice::from_raw_parts(text, len) };
    Some(String::from_utf16_lossy(units))
}

/// A path as Windows' wide, NUL-terminated string.
fn wide(text: &OsStr) -> Vec<u16> {
    text.encode_wide().chain(Some(0)).collect()
}
