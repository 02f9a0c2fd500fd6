# make install: the library (static and shared), the public headers, a
# pkg-config file and a CMake package, so that both
# `pkg-config --cflags --libs arbor` and `find_package(Arbor)` work.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS arbor_static arbor_shared EXPORT ArborTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT ArborTargets NAMESPACE Arbor:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Arbor)

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/ArborConfig.cmake.in
  ${CMAKE_BINARY_DIR}/ArborConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Arbor)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/ArborConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_BINARY_DIR}/ArborConfig.cmake ${CMAKE_BINARY_DIR}/ArborConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Arbor)

# The prefix, as a path from the .pc file's directory: CMAKE_INSTALL_PREFIX
# is only a default here (`cmake --install --prefix`, make install PREFIX=
# choose another at install time).
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  message(FATAL_ERROR "arbor.pc needs a libdir relative to the prefix, not ${CMAKE_INSTALL_LIBDIR}")
endif()
file(RELATIVE_PATH ARBOR_PC_TO_PREFIX "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
configure_file(${PROJECT_SOURCE_DIR}/cmake/arbor.pc.in ${CMAKE_BINARY_DIR}/arbor.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/arbor.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
