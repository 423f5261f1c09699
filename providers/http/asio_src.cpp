// Asio's separately compiled implementation (BOOST_ASIO_SEPARATE_COMPILATION), core and SSL: compiled
// once here instead of in every file that includes Asio.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
