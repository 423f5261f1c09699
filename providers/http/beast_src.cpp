// Beast's separately compiled implementation (BOOST_BEAST_SEPARATE_COMPILATION): compiled once here
// instead of in every file that includes Beast.
#include <boost/beast/src.hpp>
