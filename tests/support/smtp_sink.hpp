// A real SMTP server for tests, on 127.0.0.1 and an ephemeral port, run by
// Boost.Asio on its own thread. It speaks enough of RFC 5321 for a mail
// client (EHLO/HELO, MAIL FROM, RCPT TO, DATA with dot-unstuffing, RSET,
// NOOP, QUIT), keeps every accepted message, and can refuse the next
// MAIL FROM commands to exercise a client's handling of 4xx and 5xx answers.
#pragma once

#include <boost/asio.hpp>

#include <algorithm>
#include <cctype>
#include <istream>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace cascade::testing {

struct SmtpMessage {
    std::string from;             // the envelope sender, without the angle brackets
    std::vector<std::string> to;  // the envelope recipients, likewise
    std::string data;             // the message as sent (CRLF line ends, dots unstuffed, no final ".")
};

class SmtpSink {
public:
    SmtpSink() : acceptor_(io_) {
        namespace asio = boost::asio;
        const asio::ip::tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
        acceptor_.open(endpoint.protocol());
        acceptor_.set_option(asio::socket_base::reuse_address(true));
        acceptor_.bind(endpoint);
        acceptor_.listen();
        port_ = acceptor_.local_endpoint().port();
        Accept();
        thread_ = std::thread([this] { io_.run(); });
    }

    ~SmtpSink() {
        boost::asio::post(io_, [this] {
            boost::system::error_code ignored;
            acceptor_.close(ignored);
            io_.stop();
        });
        thread_.join();
    }

    SmtpSink(const SmtpSink&) = delete;
    SmtpSink& operator=(const SmtpSink&) = delete;

    unsigned short Port() const { return port_; }

    // A copy of every message accepted so far, in order.
    std::vector<SmtpMessage> Messages() const {
        const std::lock_guard lock(mutex_);
        return messages_;
    }

    // Answers the next `count` MAIL FROM commands with `code` (a 4xx is a
    // transient failure, a 5xx a permanent one).
    void FailNext(int count, int code = 451) {
        const std::lock_guard lock(mutex_);
        fail_count_ = count;
        fail_code_ = code;
    }

private:
    // One client connection, one command line at a time.
    struct Connection : std::enable_shared_from_this<Connection> {
        Connection(SmtpSink& owner, boost::asio::ip::tcp::socket client) : sink(owner), socket(std::move(client)) {}

        void Start() { Send("220 127.0.0.1 cascade test SMTP sink ready\r\n"); }

        void Send(std::string reply, bool close_after = false) {
            auto text = std::make_shared<std::string>(std::move(reply));
            boost::asio::async_write(
                socket, boost::asio::buffer(*text),
                [self = shared_from_this(), text, close_after](boost::system::error_code error, std::size_t) {
                    if (error || close_after) {
                        boost::system::error_code ignored;
                        self->socket.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
                        self->socket.close(ignored);
                        return;
                    }
                    self->ReadLine();
                });
        }

        void ReadLine() {
            boost::asio::async_read_until(socket, buffer, "\r\n",
                                          [self = shared_from_this()](boost::system::error_code error, std::size_t) {
                                              if (error) {
                                                  return;  // the client went away
                                              }
                                              std::istream stream(&self->buffer);
                                              std::string line;
                                              std::getline(stream, line);
                                              if (!line.empty() && line.back() == '\r') {
                                                  line.pop_back();
                                              }
                                              self->OnLine(line);
                                          });
        }

        // Lines of a DATA section are read one after another without a
        // reply, until the lone "." that ends it.
        void OnLine(const std::string& line) {
            if (in_data) {
                if (line == ".") {
                    in_data = false;
                    {
                        const std::lock_guard lock(sink.mutex_);
                        sink.messages_.push_back(SmtpMessage{from, to, data});
                    }
                    Reset();
                    Send("250 2.0.0 Ok: queued\r\n");
                    return;
                }
                // RFC 5321 4.5.2: a leading dot was doubled by the sender.
                data += line.size() > 1 && line.front() == '.' ? line.substr(1) : line;
                data += "\r\n";
                ReadLine();
                return;
            }
            const std::string verb = Verb(line);
            if (verb == "EHLO") {
                Send("250-127.0.0.1 greets you\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 HELP\r\n");
            } else if (verb == "HELO") {
                Send("250 127.0.0.1\r\n");
            } else if (verb == "MAIL") {
                int code = 0;
                {
                    const std::lock_guard lock(sink.mutex_);
                    if (sink.fail_count_ > 0) {
                        --sink.fail_count_;
                        code = sink.fail_code_;
                    }
                }
                if (code != 0) {
                    Send(std::to_string(code) +
                         (code >= 500 ? " 5.7.1 Refused by the test\r\n" : " 4.3.0 Try again later\r\n"));
                    return;
                }
                Reset();
                from = Address(line);
                has_from = true;
                Send("250 2.1.0 Ok\r\n");
            } else if (verb == "RCPT") {
                if (!has_from) {
                    Send("503 5.5.1 MAIL first\r\n");
                    return;
                }
                to.push_back(Address(line));
                Send("250 2.1.5 Ok\r\n");
            } else if (verb == "DATA") {
                if (to.empty()) {
                    Send("503 5.5.1 RCPT first\r\n");
                    return;
                }
                in_data = true;
                data.clear();
                Send("354 End data with <CR><LF>.<CR><LF>\r\n");
            } else if (verb == "RSET") {
                Reset();
                Send("250 2.0.0 Ok\r\n");
            } else if (verb == "NOOP") {
                Send("250 2.0.0 Ok\r\n");
            } else if (verb == "QUIT") {
                Send("221 2.0.0 Bye\r\n", true);
            } else {
                Send("502 5.5.2 Command not implemented\r\n");
            }
        }

        void Reset() {
            from.clear();
            to.clear();
            data.clear();
            has_from = false;
        }

        static std::string Verb(const std::string& line) {
            std::string verb = line.substr(0, line.find(' '));
            std::transform(verb.begin(), verb.end(), verb.begin(),
                           [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
            return verb;
        }

        // "MAIL FROM:<a@b> SIZE=10" -> "a@b".
        static std::string Address(const std::string& line) {
            const auto open = line.find('<');
            const auto close = line.find('>', open == std::string::npos ? 0 : open);
            if (open == std::string::npos || close == std::string::npos) {
                const auto colon = line.find(':');
                return colon == std::string::npos ? std::string() : line.substr(colon + 1);
            }
            return line.substr(open + 1, close - open - 1);
        }

        SmtpSink& sink;
        boost::asio::ip::tcp::socket socket;
        boost::asio::streambuf buffer;
        std::string from;
        std::vector<std::string> to;
        std::string data;
        bool has_from = false;
        bool in_data = false;
    };

    void Accept() {
        acceptor_.async_accept([this](boost::system::error_code error, boost::asio::ip::tcp::socket socket) {
            if (error) {
                return;  // closed: the sink is stopping
            }
            std::make_shared<Connection>(*this, std::move(socket))->Start();
            Accept();
        });
    }

    boost::asio::io_context io_;
    boost::asio::ip::tcp::acceptor acceptor_;
    unsigned short port_ = 0;
    mutable std::mutex mutex_;
    std::vector<SmtpMessage> messages_;
    int fail_count_ = 0;
    int fail_code_ = 451;
    std::thread thread_;
};

}  // namespace cascade::testing
