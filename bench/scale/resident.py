#!/usr/bin/env python3
"""Where a process's resident memory is: its executable's resident pages by ELF section
(/proc/PID/pagemap: present pages of each mapping of the executable, attributed through the file
offset to the section holding it), then every other mapping's Rss from /proc/PID/smaps grouped by
file (anonymous mappings together). Needs root (pagemap).

  bench/scale/resident.py PID [EXECUTABLE]

EXECUTABLE: the file whose sections name the pages (default /proc/PID/exe; give the unstripped
build when the running copy is stripped: the section headers are the same).
"""
import os, re, struct, subprocess, sys

PAGE = os.sysconf("SC_PAGE_SIZE")


def sections(executable):
    table = []
    for line in subprocess.run(["readelf", "-SW", executable], check=True, capture_output=True, text=True).stdout.splitlines():
        match = re.search(r"\]\s+(\S+)\s+(PROGBITS|NOBITS|RELR|RELA|DYNSYM|STRTAB|GNU_HASH|DYNAMIC|NOTE|INIT_ARRAY|FINI_ARRAY|X86_64_UNWIND|GNU_versym|GNU_verneed|HASH)\s+[0-9a-f]+\s+([0-9a-f]+)\s+([0-9a-f]+)", line)
        if match and match.group(2) != "NOBITS":
            offset, size = int(match.group(3), 16), int(match.group(4), 16)
            if size:
                table.append((offset, offset + size, match.group(1)))
    return sorted(table)


def main():
    pid = int(sys.argv[1])
    executable = sys.argv[2] if len(sys.argv) > 2 else f"/proc/{pid}/exe"
    target = os.path.realpath(f"/proc/{pid}/exe")
    table = sections(executable)
    by_section, other = {}, {}
    with open(f"/proc/{pid}/pagemap", "rb") as pagemap, open(f"/proc/{pid}/smaps") as smaps:
        mapping = None
        for line in smaps:
            header = re.match(r"([0-9a-f]+)-([0-9a-f]+) (\S+) ([0-9a-f]+) \S+ \d+\s*(.*)$", line)
            if header:
                start, end, offset = int(header.group(1), 16), int(header.group(2), 16), int(header.group(4), 16)
                mapping = (start, end, header.group(3), offset, header.group(5).strip())
                if mapping[4] == target:
                    pagemap.seek(start // PAGE * 8)
                    entries = pagemap.read((end - start) // PAGE * 8)
                    for index in range((end - start) // PAGE):
                        (entry,) = struct.unpack_from("<Q", entries, index * 8)
                        if not entry >> 63 & 1:
                            continue
                        file_offset = offset + index * PAGE
                        names = [name for low, high, name in table if low < file_offset + PAGE and high > file_offset]
                        for name in names or ["(between sections)"]:
                            key = name + (" (written)" if entry >> 61 & 1 == 0 else "")
                            by_section[key] = by_section.get(key, 0) + PAGE / max(len(names), 1)
                continue
            if line.startswith("Rss:") and mapping and mapping[4] != target:
                name = mapping[4] if mapping[4].startswith("/") else "anonymous " + (mapping[4] or "")
                other[name.strip()] = other.get(name.strip(), 0) + int(line.split()[1]) * 1024
    status = dict(line.split(":", 1) for line in open(f"/proc/{pid}/status"))
    print(f"pid {pid}: VmRSS {status['VmRSS'].strip()}, RssAnon {status['RssAnon'].strip()}, RssFile {status['RssFile'].strip()}")
    total = sum(by_section.values())
    print(f"{target}: {total / 1024:.0f} KiB resident")
    for name, size in sorted(by_section.items(), key=lambda item: -item[1]):
        if size >= PAGE:
            print(f"  {name:32} {size / 1024:8.0f} KiB")
    for name, size in sorted(other.items(), key=lambda item: -item[1]):
        if size:
            print(f"{name:60} {size / 1024:8.0f} KiB")


if __name__ == "__main__":
    main()
