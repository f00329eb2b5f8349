/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * libarchive, loaded when first needed. Linking it would make every program
 * that uses lib/storage load libarchive and the dozen libraries behind it
 * (libxml2, ICU, libstdc++, …) at each start, about 1.5 ms here, although
 * only tar streams and the dir backend use it. Callers use sym_archive_*()
 * after hv_archive_load() succeeded.
 */

#include <archive.h>
#include <archive_entry.h>

#include "basic/error.h"

#define HV_ARCHIVE_SYMBOLS(X)                      \
	X(archive_entry_atime)                     \
	X(archive_entry_atime_is_set)              \
	X(archive_entry_atime_nsec)                \
	X(archive_entry_copy_hardlink)             \
	X(archive_entry_copy_pathname)             \
	X(archive_entry_copy_sourcepath)           \
	X(archive_entry_filetype)                  \
	X(archive_entry_free)                      \
	X(archive_entry_hardlink)                  \
	X(archive_entry_linkify)                   \
	X(archive_entry_linkresolver_free)         \
	X(archive_entry_linkresolver_new)          \
	X(archive_entry_linkresolver_set_strategy) \
	X(archive_entry_mtime)                     \
	X(archive_entry_mtime_is_set)              \
	X(archive_entry_mtime_nsec)                \
	X(archive_entry_new)                       \
	X(archive_entry_pathname)                  \
	X(archive_entry_set_size)                  \
	X(archive_entry_size)                      \
	X(archive_entry_symlink)                   \
	X(archive_entry_unset_atime)               \
	X(archive_entry_unset_birthtime)           \
	X(archive_entry_unset_ctime)               \
	X(archive_entry_xattr_add_entry)           \
	X(archive_entry_xattr_clear)               \
	X(archive_entry_xattr_next)                \
	X(archive_entry_xattr_reset)               \
	X(archive_errno)                           \
	X(archive_error_string)                    \
	X(archive_filter_bytes)                    \
	X(archive_read_data_block)                 \
	X(archive_read_data_skip)                  \
	X(archive_read_disk_entry_from_file)       \
	X(archive_read_disk_new)                   \
	X(archive_read_disk_set_symlink_physical)  \
	X(archive_read_free)                       \
	X(archive_read_new)                        \
	X(archive_read_next_header)                \
	X(archive_read_open_fd)                    \
	X(archive_read_support_filter_bzip2)       \
	X(archive_read_support_filter_gzip)        \
	X(archive_read_support_filter_lz4)         \
	X(archive_read_support_filter_lzma)        \
	X(archive_read_support_filter_xz)          \
	X(archive_read_support_filter_zstd)        \
	X(archive_read_support_format_tar)         \
	X(archive_set_error)                       \
	X(archive_write_close)                     \
	X(archive_write_data)                      \
	X(archive_write_data_block)                \
	X(archive_write_disk_new)                  \
	X(archive_write_disk_set_options)          \
	X(archive_write_finish_entry)              \
	X(archive_write_free)                      \
	X(archive_write_header)                    \
	X(archive_write_new)                       \
	X(archive_write_open2)                     \
	X(archive_write_set_bytes_in_last_block)   \
	X(archive_write_set_format_pax)

#define HV_ARCHIVE_DECLARE(f) extern __typeof__(f) *sym_##f;
HV_ARCHIVE_SYMBOLS(HV_ARCHIVE_DECLARE)
#undef HV_ARCHIVE_DECLARE

/* Load libarchive (once; safe from any thread). -EOPNOTSUPP with a message if it is missing. */
int hv_archive_load(struct hv_error **reterr);
