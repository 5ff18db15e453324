# The Debian package: `scripts/dev.sh package` runs CPack on the build
# folder and makes build/package/coffer_VERSION_ARCH.deb. It holds what
# `cmake --install` installs, under /usr: the binary, the man pages (man/CMakeLists.txt) and the
# bash completion script (tools/CMakeLists.txt) and the systemd units (below). Its dependencies on shared
# libraries are read from the binary by dpkg-shlibdeps (dpkg-dev), so they
# follow whatever Debian's libraries the build linked; fuse3 is declared by
# hand, as mounts end with its fusermount3.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME coffer)
set(CPACK_PACKAGE_VENDOR Coffer)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "encrypted, deduplicating backup store for Linux servers and Proxmox VE")
set(CPACK_PACKAGE_DESCRIPTION
    "Coffer keeps incremental backups of directory trees, database dumps and
Proxmox VE guests (vzdump archives, disk images) encrypted and deduplicated
in a repository owned by one coffer serve process. Every snapshot can be
mounted read-only through FUSE, copied offsite without the key (to another
repository or to S3-compatible object storage), verified and pruned.")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "Coffer developers <coffer@localhost>")
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS fuse3)
# vzdump archives compressed with lzo are read through lzop -d.
set(CPACK_DEBIAN_PACKAGE_SUGGESTS lzop)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
# systemd is told of the units installed or removed; nothing is enabled.
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_CURRENT_LIST_DIR}/deb/postinst ${CMAKE_CURRENT_LIST_DIR}/deb/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

# The units: a permanent server per repository, and the jobs' scheduler.
install(FILES ${CMAKE_CURRENT_LIST_DIR}/systemd/coffer-serve@.service
              ${CMAKE_CURRENT_LIST_DIR}/systemd/coffer-scheduler.service
        DESTINATION lib/systemd/system)
set(CPACK_PACKAGE_DIRECTORY ${PROJECT_BINARY_DIR}/package)
include(CPack)
