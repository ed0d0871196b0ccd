"""The standard resource classes and traits Placement knows from the start.

Placement takes them from the ``os-resource-classes`` and ``os-traits`` libraries and writes
them into its database at start. The resource classes are the whole of os-resource-classes
1.1.0 (Zed), in its order (a class's id is its index); the traits are a subset of os-traits
2.9.0: the ``COMPUTE_*`` traits nova-compute reports for a libvirt host, common x86 CPU
flags, architectures, disk kinds and the aggregate-sharing trait. Anything else is a
``CUSTOM_*`` name, which users create.
"""

from __future__ import annotations

import re

RESOURCE_CLASSES: tuple[str, ...] = (
    "VCPU",
    "MEMORY_MB",
    "DISK_GB",
    "PCI_DEVICE",
    "SRIOV_NET_VF",
    "NUMA_SOCKET",
    "NUMA_CORE",
    "NUMA_THREAD",
    "NUMA_MEMORY_MB",
    "IPV4_ADDRESS",
    "VGPU",
    "VGPU_DISPLAY_HEAD",
    "NET_BW_EGR_KILOBIT_PER_SEC",
    "NET_BW_IGR_KILOBIT_PER_SEC",
    "PCPU",
    "MEM_ENCRYPTION_CONTEXT",
    "FPGA",
    "PGPU",
    "NET_PACKET_RATE_KILOPACKET_PER_SEC",
    "NET_PACKET_RATE_EGR_KILOPACKET_PER_SEC",
    "NET_PACKET_RATE_IGR_KILOPACKET_PER_SEC",
)


def _prefixed(prefix: str, names: str) -> tuple[str, ...]:
    return tuple(f"{prefix}{name}" for name in names.split())


TRAITS: tuple[str, ...] = (
    *_prefixed(
        "COMPUTE_",
        "DEVICE_TAGGING NODE TRUSTED_CERTS SAME_HOST_COLD_MIGRATE RESCUE_BFV ACCELERATORS "
        "SOCKET_PCI_NUMA_AFFINITY REMOTE_MANAGED_PORTS STATUS_DISABLED "
        "CONFIG_DRIVE_REGENERATION FIRMWARE_BIOS FIRMWARE_UEFI "
        "MIGRATE_AUTO_CONVERGE MIGRATE_POST_COPY SECURITY_TPM_1_2 SECURITY_TPM_2_0 "
        "EPHEMERAL_ENCRYPTION EPHEMERAL_ENCRYPTION_LUKS EPHEMERAL_ENCRYPTION_PLAIN "
        "VOLUME_ATTACH VOLUME_ATTACH_WITH_TAG VOLUME_EXTEND VOLUME_MULTI_ATTACH "
        "NET_ATTACH_INTERFACE NET_ATTACH_INTERFACE_WITH_TAG",
    ),
    *_prefixed("COMPUTE_ARCH_", "AARCH64 PPC64LE MIPSEL S390X RISCV64 X86_64"),
    *_prefixed("COMPUTE_GRAPHICS_MODEL_", "BOCHS CIRRUS GOP NONE QXL VGA VIRTIO VMVGA XEN"),
    *_prefixed("COMPUTE_IMAGE_TYPE_", "AKI AMI ARI ISO QCOW2 RAW VDI VHD VHDX VMDK PLOOP"),
    *_prefixed(
        "COMPUTE_NET_VIF_MODEL_",
        "E1000 E1000E LAN9118 NETFRONT NE2K_PCI PCNET RTL8139 SPAPR_VLAN SRIOV VIRTIO "
        "VMXNET VMXNET3",
    ),
    *_prefixed("COMPUTE_STORAGE_BUS_", "FDC IDE LXC SATA SCSI USB VIRTIO UML XEN"),
    *_prefixed("HW_ARCH_", "AARCH64 I686 PPC64LE S390X X86_64"),
    *_prefixed(
        "HW_CPU_X86_",
        "AES AVX AVX2 AVX512F BMI BMI2 F16C FMA3 MMX SSE SSE2 SSE3 SSSE3 SSE41 SSE42 SVM VMX",
    ),
    "HW_CPU_HYPERTHREADING",
    "HW_NUMA_ROOT",
    "MISC_SHARES_VIA_AGGREGATE",
    "OWNER_CYBORG",
    "OWNER_NOVA",
    "STORAGE_DISK_HDD",
    "STORAGE_DISK_SSD",
)

STANDARD_CLASSES = frozenset(RESOURCE_CLASSES)
STANDARD_TRAITS = frozenset(TRAITS)

# placement.schemas.common: what a resource class or trait name may look like
NAME_PATTERN = "^[A-Z0-9_]+$"
CUSTOM_PATTERN = "^CUSTOM_[A-Z0-9_]+$"
_CUSTOM = re.compile(CUSTOM_PATTERN)


def is_custom(name: str) -> bool:
    return bool(_CUSTOM.match(name))
