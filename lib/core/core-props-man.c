/* SPDX-License-Identifier: MIT */
/*
 * vmadm-properties(7), written from the property table: one entry per
 * property with its type, bounds, brands, when it is accepted and its
 * default, then the members of nics, disks, filesystems and pci_devices,
 * the computed properties, the deprecated names and the differences from
 * SmartOS. The page is generated at build time (man/gen-vmadm-properties.c)
 * and linted by groff in the meta tests, so the table and the manual
 * cannot drift apart.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "basic/macro.h"
#include "core/vm-props.h"

/* Text for roff: backslashes escaped, a leading '.' or '\'' made literal, breaks after commas. */
static void
text(FILE *f, const char *s)
{
	if (*s == '.' || *s == '\'')
		fputs("\\&", f);
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\e", f);
		else if (*s == '-')
			fputs("\\-", f);
		else
			fputc(*s, f);
		if ((*s == ',' || *s == '|') && s[1] && s[1] != ' ')
			fputs("\\:", f);
	}
}

static const char *
type_name(const struct hv_prop *p)
{
	switch (p->type) {
	case HV_PROP_STRING:
		return "string";
	case HV_PROP_BOOL:
		return "boolean";
	case HV_PROP_INT:
		return "integer";
	case HV_PROP_UUID:
		return "UUID";
	case HV_PROP_LIST:
		return "list";
	case HV_PROP_MAP:
		return "object";
	case HV_PROP_ROUTES:
		return "routes object";
	case HV_PROP_ARRAY:
		return "array of objects";
	case HV_PROP_TIMESTAMP:
		return "timestamp";
	case HV_PROP_OBJECT:
		return "object";
	case _HV_PROP_TYPE_MAX:
		break;
	}
	return "value";
}

static void
brands(FILE *f, unsigned mask)
{
	bool first = true;

	if (mask == HV_BRANDS_ALL) {
		fputs("all brands", f);
		return;
	}
	fputs(__builtin_popcount(mask) == 1 ? "brand " : "brands ", f);
	for (int b = 0; b < _HV_BRAND_MAX; b++)
		if (mask & HV_BRAND_BIT(b)) {
			fprintf(f, "%s%s", first ? "" : ", ", hv_brand_to_string((enum hv_brand)b));
			first = false;
		}
}

/* "integer from 1 to 4095", "list of at most 20", "one of a, b". */
static void
shape(FILE *f, const struct hv_prop *p)
{
	fputs(type_name(p), f);
	if (p->flags & HV_PROP_RO)
		return;
	if (p->type == HV_PROP_INT)
		fprintf(f, " from %" PRId64 " to %" PRId64, p->min, p->max);
	else if (p->type == HV_PROP_STRING && p->max > 0)
		fprintf(f, " of at most %" PRId64 " bytes", p->max);
	else if ((p->type == HV_PROP_LIST || p->type == HV_PROP_ARRAY) && p->max > 0)
		fprintf(f, " of at most %" PRId64 " elements", p->max);
	else if ((p->type == HV_PROP_MAP || p->type == HV_PROP_ROUTES) && p->max > 0)
		fprintf(f, " of at most %" PRId64 " entries", p->max);
	if (p->values) {
		fputs(", one of ", f);
		for (const char *v = p->values; *v; v++) {
			if (*v == '|')
				fputs(", ", f);
			else
				text(f, (char[]){*v, 0});
		}
	}
	if (p->format != HV_PROP_FMT_NONE && p->format != HV_PROP_FMT_PRINTABLE) {
		fputs(p->type == HV_PROP_LIST ? ", each " : ", ", f);
		text(f, hv_prop_format_to_string(p->format));
	}
	if (p->flags & HV_PROP_AS_STRING)
		fputs(" (kept as one comma-separated string)", f);
}

static void
when(FILE *f, const struct hv_prop *p)
{
	if (p->flags & HV_PROP_RO) {
		fputs("; computed", f);
		return;
	}
	if (p->flags & HV_PROP_C)
		fputs("; create", f);
	if (p->flags & HV_PROP_U)
		fputs((p->flags & HV_PROP_C) ? ", update" : "; update only", f);
	if ((p->flags & (HV_PROP_U | HV_PROP_LIVE)) == (HV_PROP_U | HV_PROP_LIVE))
		fputs(" (live)", f);
	if ((p->flags & HV_PROP_C) && !(p->flags & HV_PROP_U))
		fputs(" only", f);
	if (p->flags & HV_PROP_NULL_CLEARS)
		fputs("; null clears it", f);
}

static void
entry(FILE *f, const struct hv_prop *p)
{
	fputs(".TP\n.B ", f);
	text(f, p->name);
	fputs("\n.I ", f);
	shape(f, p);
	fputs("; ", f);
	brands(f, p->brands);
	if (p->required)
		fputs(" (required)", f);
	when(f, p);
	if (p->default_doc) {
		fputs("; default ", f);
		text(f, p->default_doc);
	}
	if (p->header)
		fprintf(f, "; list column %s", p->header);
	if (p->flags & HV_PROP_ALIAS)
		fprintf(f, "; deprecated name of %s", p->alias_of);
	fputs(".\n.br\n", f);
	text(f, p->doc);
	fputc('\n', f);
}

static void
section(FILE *f, const char *title, const char *intro)
{
	fprintf(f, ".SH %s\n", title);
	if (intro) {
		text(f, intro);
		fputc('\n', f);
	}
}

static void
props_where(FILE *f, bool (*pick)(const struct hv_prop *))
{
	size_t n;
	const struct hv_prop *props = hv_vm_props(&n);

	for (size_t i = 0; i < n; i++)
		if (pick(&props[i]))
			entry(f, &props[i]);
}

static bool
settable(const struct hv_prop *p)
{
	return !(p->flags & (HV_PROP_RO | HV_PROP_ALIAS));
}

static bool
computed(const struct hv_prop *p)
{
	return p->flags & HV_PROP_RO;
}

static bool
deprecated(const struct hv_prop *p)
{
	return p->flags & HV_PROP_ALIAS;
}

static void
members(FILE *f, const char *array, const char *title)
{
	const struct hv_prop *p = hv_vm_prop_find(array);

	if (!p)
		return;
	fprintf(f, ".SH %s\n", title);
	fputs("The members of each element of\n.BR ", f);
	text(f, array);
	fputs(" ;\n.B ", f);
	text(f, p->key);
	fputs("\nnames an element in update_", f);
	text(f, array);
	fputs(" and remove_", f);
	text(f, array);
	fputs(".\n", f);
	for (size_t i = 0; i < p->n_members; i++)
		entry(f, &p->members[i]);
}

static void
header(FILE *f)
{
	fprintf(f, ".TH VMADM-PROPERTIES 7 \"\" \"Sable %s\" \"Sable Manual\"\n", HV_VERSION);
	/* Property names must not be hyphenated, and a ragged right margin reads better. */
	fputs(".nh\n.ad l\n", f);
	fputs(".SH NAME\n"
	      "vmadm-properties \\- the properties of Sable's virtual machines\n"
	      ".SH SYNOPSIS\n"
	      ".B vmadm create\n.RB [ \\-f\n.IR payload.json ]\n.br\n"
	      ".B vmadm validate create\n.RB [ \\-f\n.IR payload.json ]\n.br\n"
	      ".B vmadm update\n.I uuid\n.RB [ \\-f\n.IR payload.json ]\n.br\n"
	      ".B vmadm update\n.I uuid property\\fB=\\fIvalue\n.RI ...\n"
	      ".SH DESCRIPTION\n"
	      "A VM is described by one JSON object: the payload given to\n"
	      ".B vmadm create\n"
	      "and the object\n.B vmadm get\nprints.\n"
	      "This page lists every member such an object may have, as SmartOS's vmadm\n"
	      "defines them, and says what Sable does with each on Linux.\n"
	      "Sable runs two brands:\n.B lx\n"
	      "(a container: a zone of namespaces and control groups on the host's kernel) and\n"
	      ".B kvm\n(a QEMU/KVM virtual machine inside a zone).\n"
	      "Properties of the brands Sable does not run are listed too, so that an error\n"
	      "can say what a name is for.\n"
	      ".PP\n"
	      "Each entry gives the value's type and bounds, the brands it applies to, whether a\n"
	      "create payload or an update may set it (live: a running VM sees the change at\n"
	      "once; otherwise at its next boot), its default and its\n"
	      ".B vmadm list\ncolumn.\n"
	      "Where a property is accepted and stored only, the entry says so.\n"
	      "Integers and booleans may also be given as strings (\"40\", \"true\"), as the\n"
	      "command line form of\n.B vmadm update\ngives them;\n"
	      "a list may be an array of strings or one comma-separated string.\n",
	      f);
}

static void
update_forms(FILE *f)
{
	fputs(".SH UPDATES\n"
	      "An update payload has the shape of a create payload, except for maps and arrays.\n"
	      ".TP\n\\fBset_\\fImap\\fR, \\fBremove_\\fImap\\fR\n"
	      "For tags, customer_metadata, internal_metadata and routes:\n"
	      ".BI set_ map\nis an object whose members are added or replaced, and\n"
	      ".BI remove_ map\na list of keys to delete (a missing key is fine).\n"
	      ".TP\n\\fBadd_\\fIarray\\fR, \\fBupdate_\\fIarray\\fR, \\fBremove_\\fIarray\\fR\n"
	      "For nics, disks, filesystems and pci_devices:\n"
	      ".BI add_ array\nlists new elements, filled in as at create;\n"
	      ".BI update_ array\nlists partial elements, each naming the element it changes by\n"
	      "its key member (mac, path, target), where null removes a member;\n"
	      ".BI remove_ array\nlists the keys of the elements to remove.\n"
	      "Naming an element the VM does not have is an error.\n"
	      "A NIC's mac never changes: add a new NIC and remove the old one.\n"
	      "A NIC that becomes primary takes the flag from the others.\n"
	      ".PP\n"
	      "After an update, max_locked_memory is lowered to max_physical_memory and max_swap\n"
	      "raised to it and to 256; a kvm VM's max_physical_memory and max_locked_memory are\n"
	      "raised to ram + 256.\n"
	      "When only max_physical_memory changes, max_locked_memory and max_swap keep their\n"
	      "distance to it and tmpfs its ratio.\n",
	      f);
}

static void
limits(FILE *f)
{
	fprintf(f,
	        ".SH LIMITS\n"
	        "A payload is at most 1 MiB. Besides the bounds of each property: at most %d\n"
	        "NICs with at most %d addresses each, %d disks, %d filesystems and %d PCI "
	        "devices;\n"
	        "at most %d entries in each of tags, customer_metadata and internal_metadata,\n"
	        "with keys of at most %d bytes; at most %d routes; lists of at most %d elements "
	        "and\n"
	        "strings of at most %d bytes where no tighter bound is stated.\n"
	        "Validation reports at most %d problems.\n",
	        HV_VM_MAX_NICS, HV_VM_MAX_NIC_IPS, HV_VM_MAX_DISKS, HV_VM_MAX_FILESYSTEMS,
	        HV_VM_MAX_PCI_DEVICES, HV_VM_MAX_MAP, HV_VM_MAX_MAP_KEY, HV_VM_MAX_ROUTES,
	        HV_VM_MAX_LIST, HV_VM_MAX_STRING, HV_VM_MAX_PROBLEMS);
}

static void
differences(FILE *f)
{
	fputs(".SH DIFFERENCES FROM SMARTOS\n"
	      ".IP \\(bu 2\n"
	      "Unknown or misspelt properties, and properties of another brand or action, are\n"
	      "errors that name the closest valid property: \"unknown property\n"
	      "\\&'max_physical_memroy' (did you mean 'max_physical_memory'?)\".\n"
	      "SmartOS drops them with a warning and goes on.\n"
	      ".IP \\(bu 2\n"
	      "A create payload must name its brand.\n"
	      "joyent and joyent-minimal need an illumos kernel (use lx) and bhyve illumos's\n"
	      "hypervisor (use kvm); Sable refuses them.\n"
	      ".IP \\(bu 2\n"
	      "kernel_version is optional for lx: Sable's zones run the host's kernel.\n"
	      ".IP \\(bu 2\n"
	      "Values are checked when the payload is validated: addresses, networks, MACs,\n"
	      "UUIDs, host names and ranges, instead of when the VM first boots.\n"
	      ".IP \\(bu 2\n"
	      "nowait in a kvm payload is an error, in validate and create alike.\n"
	      ".IP \\(bu 2\n"
	      "An update_ or remove_ form that names an element the VM does not have is an\n"
	      "error, and a payload may not name two primary NICs.\n"
	      ".IP \\(bu 2\n"
	      "The deprecated nics.*.ip, netmask and gateway are stored as ips and gateways\n"
	      "only.\n"
	      ".IP \\(bu 2\n"
	      "A nic tag that does not exist, or whose NIC is gone, an MTU outside the tag's\n"
	      "range, a MAC another VM has, and a vlan_id on a host whose kernel cannot carry\n"
	      "VLANs are refused before anything is made, with the NIC's path in the message.\n"
	      ".IP \\(bu 2\n"
	      "NIC changes reach a running lx zone at once (add_nics, remove_nics, and in\n"
	      "update_nics ips, allowed_ips, the allow_* flags and max_bandwidth); nic_tag,\n"
	      "vlan_id and mtu take effect at the next boot.\n"
	      ".IP \\(bu 2\n"
	      "nics.*.max_bandwidth (Mbit/s, each direction) is a Sable extension.\n"

	      ".IP \\(bu 2\n"
	      "Properties tied to illumos (limit_priv, fs_allowed, the System V IPC limits and\n"
	      "most zfs_* properties) are accepted and stored but have no effect.\n"
	      ".SH SEE ALSO\n"
	      ".BR vmadm (8),\n.BR zoneadm (8),\n.BR sysinfo (8)\n",
	      f);
}

int
hv_vm_props_man(FILE *f)
{
	header(f);
	section(f, "PROPERTIES", NULL);
	props_where(f, settable);
	update_forms(f);
	members(f, "nics", "NICS");
	members(f, "disks", "DISKS");
	members(f, "filesystems", "FILESYSTEMS");
	members(f, "pci_devices", "PCI DEVICES");
	section(f, "COMPUTED PROPERTIES",
	        "vmadm get and vmadm list show these; a payload may not set them.");
	props_where(f, computed);
	section(f, "DEPRECATED NAMES",
	        "Accepted in create payloads and stored under the property they stand for.");
	props_where(f, deprecated);
	limits(f);
	differences(f);
	return ferror(f) || fflush(f) == EOF ? -EIO : 0;
}
