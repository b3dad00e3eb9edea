// telegraf 4 pointed at Hotline's gateway (see README.md).
//
//   HOTLINE=http://127.0.0.1:8080 TOKEN=... node telegraf_bot.js [polling | webhook PORT URL]
//
// In webhook mode telegraf answers the webhook with the first eligible call as JSON
// (webhookReply, on by default). telegraf's launch({ webhook }) always registers an https://
// URL, so a plain-http backend sets its webhook itself, as below.
const http = require('http')
const { Telegraf, Markup, Input } = require('telegraf')

const HOTLINE = process.env.HOTLINE || 'http://127.0.0.1:8080'
const TOKEN = process.env.TOKEN || '5000001:sandbox-demo-token'
const bot = new Telegraf(TOKEN, { telegram: { apiRoot: HOTLINE } })

bot.hears('menu', (ctx) =>
  ctx.reply('Menu', Markup.inlineKeyboard([[Markup.button.callback('Buy', 'buy')], [Markup.button.url('Site', 'https://example.com')]])))
bot.hears('temp', async (ctx) => {
  const sent = await ctx.telegram.sendMessage(ctx.chat.id, 'temporary')
  await ctx.telegram.deleteMessage(ctx.chat.id, sent.message_id)
})
bot.hears('handover', async (ctx) => {
  await ctx.telegram.callApi('hotlineHandover', { chat_id: ctx.chat.id })
  await ctx.telegram.callApi('hotlineResume', { chat_id: ctx.chat.id })
  await ctx.reply('handover done')
})
bot.hears('photo', (ctx) => ctx.replyWithPhoto(Input.fromBuffer(Buffer.from('fake jpeg bytes'), 'p.jpg'), { caption: 'Our catalogue' }))
bot.on(['document', 'photo'], async (ctx) => {
  const m = ctx.message
  const id = m.document ? m.document.file_id : m.photo[m.photo.length - 1].file_id
  const link = await ctx.telegram.getFileLink(id) // {apiRoot}/file/bot{token}/{path}
  const body = Buffer.from(await (await fetch(link)).arrayBuffer())
  await ctx.telegram.sendMessage(ctx.chat.id, `got ${body.length} bytes: ${body.toString()}`)
})
bot.on('text', (ctx) => ctx.reply(`echo: ${ctx.message.text}`))
bot.action('buy', async (ctx) => {
  await ctx.telegram.answerCbQuery(ctx.callbackQuery.id, 'Added to cart')
  await ctx.editMessageText('Bought!')
})

async function main () {
  if (process.argv[2] === 'webhook') {
    const port = Number(process.argv[3])
    await bot.telegram.setWebhook(process.argv[4], { secret_token: 'telegraf-secret' })
    http.createServer(bot.webhookCallback('/hook', { secretToken: 'telegraf-secret' })).listen(port, '127.0.0.1')
  } else {
    await bot.launch()
  }
}
main()
