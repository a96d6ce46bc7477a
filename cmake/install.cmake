# Installs the libraries, public headers and a package config so that
# applications can use find_package(Sovereign) and link sovereign::sdk /
# sovereign::keystore. Private headers (sdk/internal, keystore/internal) are not installed.

include(CMakePackageConfigHelpers)

install(TARGETS sovereign_sdk sovereign_keystore sovereign_pipeline
  EXPORT SovereignTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/sovereign DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT SovereignTargets NAMESPACE sovereign:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Sovereign)

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/SovereignConfig.cmake.in
  ${PROJECT_BINARY_DIR}/SovereignConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Sovereign)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/SovereignConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/SovereignConfig.cmake ${PROJECT_BINARY_DIR}/SovereignConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Sovereign)
